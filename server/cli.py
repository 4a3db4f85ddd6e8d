"""The `convscope` command: `convscope serve` starts the app; `convscope grade` writes a platform's result file.

    convscope serve --host 127.0.0.1 --port 8000 --workers 2
    convscope grade --kind conv_output_shape --seed 7 --difficulty 1 --answer answer.json \\
                    --format gradescope --output /autograder/results/results.json

A bad CONVSCOPE_* setting stops `serve` with one line on stderr (exit 2). `grade` reads the answer as
JSON from the file (`-` for standard input) and writes the result file, or prints it without --output.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convscope", description="A teaching instrument for convolution arithmetic.")
    parser.add_argument("--version", action="version", version=f"convscope {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the pages and the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (each holds its own image cache)")
    serve.add_argument("--log-level", default="info")
    grade = commands.add_parser("grade", help="grade an answer offline and write a result file")
    grade.add_argument("--kind", required=True)
    grade.add_argument("--seed", type=int, required=True)
    grade.add_argument("--difficulty", type=int, required=True)
    grade.add_argument("--answer", required=True, help="a JSON file with the answer, or - for standard input")
    grade.add_argument("--format", choices=("gradescope", "prairielearn", "json"), default="json")
    grade.add_argument("--output", help="where to write the result file (default: standard output)")
    return parser


def _grade(args: argparse.Namespace) -> int:
    from .grading import GradingError, grade, results_file
    text = sys.stdin.read() if args.answer == "-" else Path(args.answer).read_text(encoding="utf-8")
    try:
        answer = json.loads(text)
    except ValueError as err:
        answer = None
        problem = f"The answer file is not JSON ({err.msg} at line {err.lineno}); it is graded 0."
    else:
        problem = None
    try:
        result = grade(args.kind, args.seed, args.difficulty, answer)
    except GradingError as err:
        print(f"convscope grade: {err.message}", file=sys.stderr)
        return 2
    if problem:
        result["feedback"] = problem
    out = json.dumps(results_file(result, args.format), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(out, encoding="utf-8")
    else:
        sys.stdout.write(out)
    return 0


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "grade":
        raise SystemExit(_grade(args))
    from .__main__ import serve
    from .settings import SettingsError
    try:
        serve(args.host, args.port, args.workers, args.log_level)
    except SettingsError as err:
        print(f"convscope: {err}", file=sys.stderr)
        raise SystemExit(2) from None
