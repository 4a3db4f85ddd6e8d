"""Offline grading equals the API: the same JSON for every kind, difficulty and 50 seeds; Client over HTTP."""
from __future__ import annotations

import json

import orjson
import pytest

import convscope
from convscope.core.exercises import KINDS

SEEDS = range(50)


def _same(a: dict, b: dict) -> bool:
    return orjson.dumps(a) == orjson.dumps(b)


@pytest.mark.parametrize("kind", list(KINDS))
def test_offline_exercises_and_grades_equal_the_apis(client, kind: str) -> None:
    for difficulty in (1, 2, 3):
        for seed in SEEDS:
            triple = {"kind": kind, "seed": seed, "difficulty": difficulty}
            offline = convscope.exercise(kind, seed, difficulty)
            assert _same(offline, client.post("/api/v1/exercises", json=triple).json()), triple
            expected = convscope.grade(kind, seed, difficulty, None, reveal=True)["expected"]
            graded = convscope.grade(kind, seed, difficulty, expected, reveal=True)
            assert graded["correct"] is True
            over_http = client.post("/api/v1/exercises/grade", json=triple | {"answer": expected, "reveal": True})
            assert _same(graded, over_http.json()), triple


def test_kinds_and_refusals_match(client) -> None:
    assert _same(convscope.kinds(), client.get("/api/v1/exercises/kinds").json())
    with pytest.raises(convscope.GradingError) as caught:
        convscope.exercise("conv_output_shap", 1, 1)
    api = client.post("/api/v1/exercises", json={"kind": "conv_output_shap", "seed": 1, "difficulty": 1})
    assert api.status_code == caught.value.status == 422 and api.json()["error"] == caught.value.message


def test_client_against_a_live_server(live_server: str) -> None:
    remote = convscope.Client(live_server)
    assert remote.exercise("receptive_field", 4, 2) == json.loads(orjson.dumps(convscope.exercise("receptive_field", 4, 2)))
    answer = convscope.grade("param_count", 9, 3, None, reveal=True)["expected"]
    assert remote.grade("param_count", 9, 3, answer)["correct"] is True
    with pytest.raises(convscope.GradingError, match="Did you mean") as caught:
        remote.exercise("param_cout", 1, 1)
    assert caught.value.status == 422


def test_import_convscope_does_not_load_torch() -> None:
    import subprocess
    import sys
    code = "import sys, convscope; print(convscope.__version__, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [convscope.__version__, "False"]
