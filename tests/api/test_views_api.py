"""POST /api/v1/views/transpose: the success envelope, the error envelope, and the page's routes."""
from __future__ import annotations

import pytest

BODY = {"input": [[[[1, 2], [3, 4]]]], "weight": [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], "stride": 2, "padding": 1,
        "output_padding": 1}


def test_transpose_view(client):
    r = client.post("/api/v1/views/transpose", json=BODY)
    assert r.status_code == 200
    data = r.json()
    assert data["ok"] and data["matches"] and data["shape"] == [1, 1, 4, 4]
    assert data["stretched_shape"] == [1, 1, 6, 6] and data["pad"] == [[1, 2], [1, 2]]
    assert data["flipped_weight"] == [[[[9, 8, 7], [6, 5, 4], [3, 2, 1]]]]
    assert data["direct"]["output"] == data["output"]
    assert len(data["direct"]["trace"]["cells"]) == 16


@pytest.mark.parametrize(("body", "status", "fragment"), [
    pytest.param(BODY | {"output_padding": 2}, 422, "output_padding (2) must be smaller", id="output-padding"),
    pytest.param(BODY | {"extras": ["trace"]}, 422, "extras", id="unknown-field"),
    pytest.param({"weight": BODY["weight"]}, 422, "input is required", id="missing-input"),
    pytest.param(BODY | {"input": [[[[0.0] * 300] * 300]], "stride": 9}, 413, "cap", id="too-large"),
])
def test_transpose_view_errors(client, body, status, fragment):
    r = client.post("/api/v1/views/transpose", json=body)
    assert r.status_code == status
    data = r.json()
    assert data["ok"] is False and data["status"] == status and fragment in data["error"]


@pytest.mark.parametrize("path", ["/conv", "/transpose", "/pool", "/matrices", "/receptive-field"])
def test_view_pages_are_served_with_hashed_scripts_and_no_inline_script(client, path):
    r = client.get(path)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert '<script type="module" src="/static/js/views/' in html and "?v=" in html
    assert "<script>" not in html and " onclick=" not in html and "javascript:" not in html


@pytest.mark.parametrize("body", [BODY, BODY | {"dilation": 2, "padding": 0, "output_padding": 0},
                                  {"input": [[[1, 2, 3]]], "weight": [[[1, -1]]], "stride": 3}])
def test_transpose_view_holds_what_ops_answers_with_each_extra(client, body):
    view = client.post("/api/v1/views/transpose", json=body).json()
    op = "conv_transpose2d" if view["op"] == "conv_transpose2d" else "conv_transpose1d"
    for extra in ("trace", "toeplitz"):
        direct = client.post(f"/api/v1/ops/{op}", json=body | {"extras": [extra]}).json()
        assert view["ops"][extra] | {"ok": True} == direct, extra


def test_transpose_view_holds_a_refused_matrix_in_place(client):
    body = BODY | {"input": [[[[1.0] * 30] * 30]], "weight": [[[[1.0] * 3] * 3]], "output_padding": 0}  # 900 × 3,481
    view = client.post("/api/v1/views/transpose", json=body)
    assert view.status_code == 200
    refused = view.json()["ops"]["toeplitz"]
    direct = client.post("/api/v1/ops/conv_transpose2d", json=body | {"extras": ["toeplitz"]})
    assert refused["status"] == direct.status_code == 413 and refused["error"] == direct.json()["error"]
    assert view.json()["ops"]["trace"]["trace"]["cells"]
