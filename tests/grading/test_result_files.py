"""`convscope grade --format …` writes each platform's result file; notebook and otter helpers."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import convscope
from convscope import notebook, otter

KIND, SEED, LEVEL = "pool_output_values", 3, 1


def _expected() -> object:
    return convscope.grade(KIND, SEED, LEVEL, None, reveal=True)["expected"]


def _cli(tmp_path: Path, answer: object, fmt: str) -> dict:
    (tmp_path / "answer.json").write_text(json.dumps(answer))
    out = tmp_path / "out" / "results.json"
    proc = subprocess.run([sys.executable, "-m", "convscope", "grade", "--kind", KIND, "--seed", str(SEED),
                           "--difficulty", str(LEVEL), "--answer", str(tmp_path / "answer.json"), "--format", fmt,
                           "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("right", [True, False], ids=["right", "wrong"])
def test_gradescope_results_json(tmp_path: Path, right: bool) -> None:
    answer = _expected() if right else [[[[0.0]]]]
    data = _cli(tmp_path, answer, "gradescope")
    assert set(data) >= {"score", "tests"} and data["score"] == (1.0 if right else 0.0)
    (test,) = data["tests"]
    assert set(test) == {"name", "score", "max_score", "output", "status", "visibility"}
    assert test["status"] == ("passed" if right else "failed") and test["max_score"] == 1.0
    assert test["visibility"] == "visible" and test["output"]


def test_prairielearn_results(tmp_path: Path) -> None:
    data = _cli(tmp_path, _expected(), "prairielearn")
    assert data["gradable"] is True and 0 <= data["score"] <= 1 and data["score"] == 1.0 and data["message"]
    (test,) = data["tests"]
    assert {"name", "points", "max_points", "message"} <= set(test) and test["points"] == test["max_points"]


def test_json_format_is_the_apis_answer(tmp_path: Path) -> None:
    assert _cli(tmp_path, _expected(), "json") == json.loads(json.dumps(convscope.grade(KIND, SEED, LEVEL, _expected())))


def test_a_file_that_is_not_json_is_graded_zero_with_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "answer.json").write_text("[[1, 2")
    proc = subprocess.run([sys.executable, "-m", "convscope", "grade", "--kind", KIND, "--seed", "3", "--difficulty",
                           "1", "--answer", str(tmp_path / "answer.json"), "--format", "gradescope"],
                          capture_output=True, text=True, timeout=120)
    data = json.loads(proc.stdout)
    assert data["score"] == 0 and "not JSON" in data["tests"][0]["output"]


def test_otter_helpers() -> None:
    otter.assert_correct(KIND, SEED, LEVEL, _expected())
    with pytest.raises(AssertionError, match=r"\w"):
        otter.assert_correct(KIND, SEED, LEVEL, [[[[0.0]]]])
    assert otter.score(KIND, SEED, LEVEL, _expected()) == 1.0


def test_notebook_check_prints_on_stdout_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert notebook.check(KIND, SEED, LEVEL, _expected()) == 1.0
    assert notebook.check("no_such_kind", 1, 1, 0) == 0.0
    out = capsys.readouterr()
    assert out.out.startswith("✓ 1/1") and "✗ 0/1" in out.out and out.err == ""


def test_a_real_notebook_run_by_a_kernel(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import convscope\nfrom convscope.notebook import check\n"
                                  f"ex = convscope.exercise({KIND!r}, {SEED}, {LEVEL})\nprint(ex['kind'])"),
        nbformat.v4.new_code_cell(f"answer = convscope.grade({KIND!r}, {SEED}, {LEVEL}, None, reveal=True)['expected']\n"
                                  f"score = check({KIND!r}, {SEED}, {LEVEL}, answer)"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    assert [o["name"] for o in outputs if o["output_type"] == "stream"] == ["stdout"]
    assert outputs[0]["text"].startswith("✓ 1/1")
