"""POST /api/v1/views/backprop: /backprop's backward pass in one request.

grad_output is drawn by the server with the generator of the pages' example tensors, checked here bit for bit
against static/js/data.js run by Node.js; the answer is what /ops answers for the same body with that grad_output."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convscope.core.backprop_view import random_tensor, rng

DATA = pathlib.Path(__file__).resolve().parents[2] / "static/js/data.js"
NODE = shutil.which("node")
DRAW = """import { randomTensor, rng } from %s;
const cases = JSON.parse(process.argv[2]);
console.log(JSON.stringify(cases.map(([seed, shape, lo, hi]) => randomTensor(shape, lo, hi, rng(seed)))));"""


def _node(tmp: pathlib.Path, cases: list) -> list:
    assert NODE, "Node.js runs this check: scripts/setup test installs it (with npm, for axe-core)"
    script = tmp / "draw.mjs"
    script.write_text(DRAW % json.dumps(DATA.as_uri()), encoding="utf-8")
    done = subprocess.run([NODE, str(script), json.dumps(cases)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 5), min_size=0, max_size=3),
                                st.integers(-5, 0), st.integers(0, 5)), min_size=1, max_size=30))
def test_the_servers_draw_is_the_pages_bit_for_bit(tmp_path_factory, cases) -> None:
    want = _node(tmp_path_factory.mktemp("draw"), [list(c) for c in cases])
    assert [random_tensor(shape, lo, hi, rng(seed)) for seed, shape, lo, hi in cases] == want


def test_a_zero_seed_draws_as_seed_one_as_in_the_page(tmp_path) -> None:
    assert _node(tmp_path, [[0, [4], -2, 2], [1, [4], -2, 2]]) == [random_tensor([4], -2, 2, rng(s)) for s in (0, 1)]
    assert random_tensor([4], -2, 2, rng(0)) == random_tensor([4], -2, 2, rng(1))


X = [[[[1, 2, 0, 1, 3], [3, -1, 2, 0, 1], [0, 1, 1, 2, -3], [2, 0, -2, 1, 0]], [[0, 1, 2, 3, 1], [1, 1, 0, -1, 2],
                                                                                 [2, 0, 1, 1, 0], [3, 2, 1, 0, -1]]]]
BODIES = [
    {"op": "conv2d", "input": X, "weight": [[[[1, 0], [-1, 2]]], [[[0, 1], [2, -2]]]], "bias": [0, 0], "groups": 2,
     "padding": 1, "stride": [1, 2]},
    {"op": "max_pool2d", "input": X, "kernel_size": 2, "stride": 1, "dilation": [1, 2]},
    {"op": "avg_pool2d", "input": X, "kernel_size": 3, "padding": 1, "stride": 2, "ceil_mode": True,
     "count_include_pad": False},
]


@pytest.mark.parametrize("body", BODIES, ids=[b["op"] for b in BODIES])
@pytest.mark.parametrize("seed", [7919, 12345])
def test_the_answer_is_what_ops_answers_with_that_grad_output(client, body: dict, seed: int) -> None:
    r = client.post("/api/v1/views/backprop", json={**body, "grad_seed": seed})
    assert r.status_code == 200, r.text
    view = r.json()
    op, params = body["op"], {k: v for k, v in body.items() if k != "op"}
    shape = client.post(f"/api/v1/ops/{op}", json=params).json()["shape"]
    draw = rng(seed)
    assert view["grad_output"] == [[random_tensor(shape[2:], -2, 2, draw) for _ in range(shape[1])]]
    direct = client.post(f"/api/v1/ops/{op}", json={**params, "grad_output": view["grad_output"],
                                                    "extras": ["backward_trace"]}).json()
    assert view["answer"] | {"ok": True} == direct


def test_refusals_teach(client) -> None:
    r = client.post("/api/v1/views/backprop", json={"op": "conv_transpose2d", "input": X})
    assert r.status_code == 422 and r.json()["error"].startswith("op must be one of conv2d, max_pool2d, avg_pool2d")
    r = client.post("/api/v1/views/backprop", json={**BODIES[1], "grad_output": [[[[1]]]]})
    assert r.status_code == 422 and "draws grad_output from grad_seed" in r.json()["error"]
    r = client.post("/api/v1/views/backprop", json={**BODIES[1], "kernel_size": 9})  # the op's own sentence
    direct = client.post("/api/v1/ops/max_pool2d", json={k: v for k, v in BODIES[1].items() if k != "op"}
                         | {"kernel_size": 9})
    assert r.status_code == direct.status_code == 422 and r.json()["error"] == direct.json()["error"]
    r = client.post("/api/v1/views/backprop", json={**BODIES[1], "grad_seed": -1})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "grad_seed"
