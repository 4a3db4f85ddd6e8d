"""The v1 ops API through HTTP: every op's success envelope, grads, extras, and the lecture's published cases."""
from __future__ import annotations

import httpx
import numpy as np
import pytest

LECTURE_POOL_INPUT = [[[[1, 3, 2, 9], [7, 4, 1, 5], [8, 5, 2, 3], [4, 2, 1, 4]]]]
X4 = np.arange(16.0).reshape(1, 1, 4, 4).tolist()
X5 = np.arange(10.0).reshape(1, 2, 5).tolist()
W33 = np.arange(9.0).reshape(1, 1, 3, 3).tolist()

EVERY_OP = [
    pytest.param("conv2d", {"input": X4, "weight": W33, "bias": [1.0], "padding": 1}, [1, 1, 4, 4], id="conv2d"),
    pytest.param("conv1d", {"input": X5, "weight": [[[1, 0, -1], [1, 1, 1]]], "padding": "same"}, [1, 1, 5],
                 id="conv1d"),
    pytest.param("conv_transpose2d", {"input": X4, "weight": W33, "stride": 2, "output_padding": 1}, [1, 1, 10, 10],
                 id="conv_transpose2d"),
    pytest.param("conv_transpose1d", {"input": X5, "weight": [[[1, 2]], [[3, 4]]], "stride": 3}, [1, 1, 14],
                 id="conv_transpose1d"),
    pytest.param("max_pool2d", {"input": X4, "kernel_size": 3, "stride": 2, "ceil_mode": True}, [1, 1, 2, 2],
                 id="max_pool2d"),
    pytest.param("max_pool1d", {"input": X5, "kernel_size": 2}, [1, 2, 2], id="max_pool1d"),
    pytest.param("avg_pool2d", {"input": X4, "kernel_size": 2, "padding": 1, "count_include_pad": False},
                 [1, 1, 3, 3], id="avg_pool2d"),
    pytest.param("avg_pool1d", {"input": X5, "kernel_size": 3, "stride": 1}, [1, 2, 3], id="avg_pool1d"),
    pytest.param("max_unpool2d", {"input": [[[[7, 9], [8, 4]]]], "indices": [[[[4, 3], [8, 15]]]],
                                  "kernel_size": 2}, [1, 1, 4, 4], id="max_unpool2d"),
    pytest.param("max_unpool1d", {"input": [[[5, 6]]], "indices": [[[1, 2]]], "kernel_size": 2, "output_size": [5]},
                 [1, 1, 5], id="max_unpool1d"),
    pytest.param("interpolate", {"input": X4, "scale_factor": 2, "mode": "bilinear", "align_corners": False},
                 [1, 1, 8, 8], id="interpolate"),
]


@pytest.mark.parametrize(("op", "body", "shape"), EVERY_OP)
def test_every_op_answers_the_success_envelope(client, op, body, shape):
    r = client.post(f"/api/v1/ops/{op}", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["ok"] is True and data["op"] == op and data["shape"] == shape
    assert list(np.array(data["output"]).shape) == shape
    if op.startswith("max_pool"):
        assert np.array(data["indices"]).shape == tuple(shape)


@pytest.mark.parametrize(("op", "body", "shape"), EVERY_OP)
def test_every_op_gives_gradients_and_a_trace(client, op, body, shape):
    body = body | {"grad_output": np.ones(shape).tolist(), "extras": ["trace"]}
    data = client.post(f"/api/v1/ops/{op}", json=body).json()
    assert np.array(data["grad_input"]).shape == np.array(body["input"]).shape
    if "weight" in body:
        assert np.array(data["grad_weight"]).shape == np.array(body["weight"]).shape
    cells = data["trace"]["cells"]
    assert len(cells) == int(np.prod(shape))
    for cell in cells:  # every traced cell re-adds to the value the op returned
        if op.startswith("max_pool"):
            assert cell["value"] == cell["inputs"][cell["argmax"]]
        else:
            assert sum(cell["terms"]) + cell.get("bias", 0.0) == pytest.approx(cell["value"], abs=1e-9)


def test_lecture_max_pool(client):
    """The lecture's 2×2 max pool, stride 2: [[7, 9], [8, 4]]."""
    data = client.post("/api/v1/ops/max_pool2d", json={"input": LECTURE_POOL_INPUT, "kernel_size": 2,
                                                      "stride": 2}).json()
    assert data["output"] == [[[[7.0, 9.0], [8.0, 4.0]]]]
    assert data["indices"] == [[[[4, 3], [8, 15]]]]


def test_lecture_toeplitz_is_4_by_16(client):
    """A 4×4 input and a 3×3 kernel: C is 4×16, each row the kernel laid out with zero gaps."""
    w = [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]
    data = client.post("/api/v1/ops/conv2d", json={"input": X4, "weight": w, "extras": ["toeplitz"]}).json()
    c = np.array(data["toeplitz"])
    assert c.shape == (4, 16)
    assert c[0].tolist() == [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    assert c[3].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9]


def test_float32_on_request(client):
    body = {"input": [[[[0.1, 0.2], [0.3, 0.4]]]], "weight": [[[[1.0]]]], "dtype": "float32"}
    out = client.post("/api/v1/ops/conv2d", json=body).json()["output"][0][0][0][0]
    assert out == pytest.approx(0.1, rel=1e-7) and out != 0.1  # float32's 0.1, widened


def test_health_over_real_http(live_server):
    data = httpx.get(live_server + "/api/v1/health").json()
    assert {k: data[k] for k in ("ok", "version", "torch", "device")} == {
        "ok": True, "version": data["version"], "torch": data["torch"], "device": "cpu"}  # API.md's promise
    assert set(data["compute"]) >= {"running", "waiting", "capacity", "cancelled"}
    assert set(data["images"]) >= {"images", "bytes", "capacity_bytes", "evictions"}


def test_openapi_lists_every_op(client):
    spec = client.get("/openapi.json").json()
    for param in EVERY_OP:
        assert f"/api/v1/ops/{param.values[0]}" in spec["paths"]
    assert client.get("/docs").status_code == 200
