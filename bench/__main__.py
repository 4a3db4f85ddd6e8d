"""Every benchmark, one table of ratios: python -m bench [--quick] [ops] [pipeline] [frames] [lab] [networks] [load]

Runs the ops overhead (bench/ops_overhead.py), the image pipeline (bench/image_pipeline.py), the
animation frame time in headless Chromium (bench/frame_time.py) and the lecture load test
(bench/load.py), one after another so that none disturbs another, and prints one Markdown table
with the date and the machine; the same table goes to bench/results/latest.md.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .common import ROOT, Row, machine

RESULTS = ROOT / "bench" / "results" / "latest.md"


def _ops(quick: bool) -> list[Row]:
    from . import ops_overhead

    return ops_overhead.run(quick)


def _pipeline(quick: bool) -> list[Row]:
    from . import image_pipeline

    if quick:
        image_pipeline.REPEATS = 3
    return [Row("pipeline", f"{r['image']}² RGB → maps at {r['display']} px, {r['transport']}",
                f"{r['e2e_ms']:.1f} ms (torch {r['torch_ms']:.1f} ms)", f"{r['ratio']:.2f}× torch")
            for r in image_pipeline.run(sides=(512,) if quick else (512, 1024))]


def _frames(quick: bool) -> list[Row]:
    from . import frame_time

    return frame_time.run(quick)


def _lab(quick: bool) -> list[Row]:
    from . import lab

    return lab.run(quick)


def _networks(quick: bool) -> list[Row]:
    from . import networks

    return networks.run(quick)


def _load(quick: bool) -> list[Row]:
    from . import load

    return load.run(quick)


BENCHMARKS: dict[str, Callable[[bool], list[Row]]] = {"ops": _ops, "pipeline": _pipeline, "frames": _frames,
                                                      "lab": _lab, "networks": _networks, "load": _load}


def table(rows: list[Row], header: str) -> str:
    lines = [header, "", "| benchmark | measure | value | ratio |", "|---|---|---|---|"]
    lines += [f"| {r.bench} | {r.measure} | {r.value} | {r.ratio} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run, of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer sizes: for a check, not figures")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    rows: list[Row] = []
    failed = []
    started = time.monotonic()
    for name in names:
        print(f"--- {name}", file=sys.stderr, flush=True)
        try:
            rows += BENCHMARKS[name](args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            rows.append(Row(name, "failed", f"{type(exc).__name__}: {str(exc)[:120]}", "—"))
    header = (f"# convscope benchmarks · {datetime.date.today()} · {machine()}"
              f"{' · quick' if args.quick else ''} · {time.monotonic() - started:.0f} s")
    text = table(rows, header)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(f"written to {Path(RESULTS).relative_to(ROOT)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
