"""POST /api/v1/views/pool: /pool's six panels in one answer, each exactly what /ops/{op} answers for its own body
(the body the page would have sent it: the input, or the max's output and indices), its refusals in place."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convscope.core.pool_view import PANELS

LECTURE = [[[[1, 3, 2, 9], [7, 4, 1, 5], [8, 5, 2, 3], [4, 2, 1, 4]]]]


def _op_answer(client, call: dict, tensors: dict) -> dict:
    """What /ops answers for one panel's call, as the view's panel writes it (a refusal as its envelope's fields)."""
    op, params = call["op"], {k: v for k, v in call.items() if k != "op"}
    r = client.post(f"/api/v1/ops/{op}", json={**tensors, **params, "extras": ["trace"]})
    data = r.json()
    del data["ok"]
    return data


def _compare(client, body: dict) -> dict:
    r = client.post("/api/v1/views/pool", json=body)
    direct = client.post("/api/v1/ops/max_pool2d", json={k: body[k] for k in body if k not in
                                                         ("count_include_pad", "scale_factor")} | {"extras": ["trace"]})
    if direct.status_code != 200:  # the max is the view: its refusal is the request's, word for word
        assert r.status_code == direct.status_code and r.json() == direct.json()
        return {}
    assert r.status_code == 200, r.text[:300]
    view = r.json()
    assert view["ok"] is True and set(view) == {"ok", "calls", *PANELS}
    maxed = view["max"]
    tensors = {"max": {"input": body["input"]}, "avg": {"input": body["input"]},
               "unpool": {"input": maxed["output"], "indices": maxed["indices"]}}
    for panel in PANELS:
        assert view[panel] == _op_answer(client, view["calls"][panel], tensors.get(panel, {"input": maxed["output"]})), panel
    return view


def test_the_lecture_example(client) -> None:
    view = _compare(client, {"input": LECTURE, "kernel_size": 2, "scale_factor": 2})
    assert view["max"]["output"] == [[[[7.0, 9.0], [8.0, 4.0]]]]
    assert view["max"]["indices"] == [[[[4, 3], [8, 15]]]]
    assert view["avg"]["output"] == [[[[3.75, 4.25], [4.75, 2.5]]]]
    unpooled = np.array(view["unpool"]["output"])[0, 0]
    assert unpooled.shape == (4, 4) and unpooled.sum() == 28 and unpooled[0, 3] == 9
    assert [view["calls"][p]["mode"] for p in ("nearest", "bilinear", "bilinear_align_corners")] == \
        ["nearest", "bilinear", "bilinear"]
    assert view["calls"]["bilinear_align_corners"]["align_corners"] is True
    assert view["calls"]["unpool"] == {"op": "max_unpool2d", "kernel_size": 2, "output_size": [4, 4]}
    assert all(len(view[p]["trace"]["cells"]) for p in PANELS)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 7), w=st.integers(1, 7), k=st.integers(1, 3), s=st.one_of(st.none(), st.integers(1, 3)),
       p=st.integers(0, 2), d=st.integers(1, 2), ceil=st.booleans(), include=st.booleans(),
       scale=st.sampled_from([1, 2, 1.5, 0.5, 3, "x"]), seed=st.integers(0, 2**16))
def test_every_panel_is_what_its_op_answers(client, h, w, k, s, p, d, ceil, include, scale, seed) -> None:
    x = np.random.default_rng(seed).integers(0, 10, (1, 1, h, w)).astype(float).tolist()
    body = {"input": x, "kernel_size": k, "padding": p, "dilation": d, "ceil_mode": ceil, "count_include_pad": include,
            "scale_factor": scale}
    if s is not None:
        body["stride"] = s
    _compare(client, body)


def test_a_panel_that_its_op_refuses_says_why_and_the_others_are_drawn(client) -> None:
    view = _compare(client, {"input": LECTURE, "kernel_size": 2, "scale_factor": "x", "dilation": 2})
    assert view["max"]["shape"] == [1, 1, 1, 1] and view["avg"]["shape"] == [1, 1, 2, 2]
    for panel in ("unpool", "nearest", "bilinear", "bilinear_align_corners"):
        assert view[panel]["status"] == 422 and view[panel]["error"] and "output" not in view[panel]
    assert "scale_factor" in view["nearest"]["error"]


def test_a_max_refusal_or_an_unknown_key_is_the_request_s_422(client) -> None:
    r = client.post("/api/v1/views/pool", json={"input": [[[[1, 3], [7, 4]]]], "kernel_size": 3})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["kernel_size"]
    r = client.post("/api/v1/views/pool", json={"input": LECTURE, "kernel_size": 2, "strides": 1})
    assert r.status_code == 422 and "strides" in r.json()["error"]
    r = client.post("/api/v1/views/pool", json={"kernel_size": 2})
    assert r.status_code == 422 and "input" in r.json()["error"]
    assert client.get("/api/v1/health").status_code == 200
