"""ONNX MaxUnpool (with the indices of a MaxPool's second output) uploaded over HTTP runs as max_unpool2d
and gives torch's maps. torch.onnx.export cannot write aten::max_unpool2d (opset 17), so the graphs are
built here with onnx.helper and compared with torch's ops on the same tensors."""
from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from tests.api.test_pipeline_models import _maps, _png


def _pool(name: str, x: str, out: str, idx: str) -> onnx.NodeProto:
    return helper.make_node("MaxPool", [x], [out, idx], name=f"/{name}/MaxPool", kernel_shape=[2, 2], strides=[2, 2])


def _unpool(name: str, x: str, idx: str, out: str) -> onnx.NodeProto:
    return helper.make_node("MaxUnpool", [x, idx], [out], name=f"/{name}/MaxUnpool", kernel_shape=[2, 2],
                            strides=[2, 2])


def _conv(name: str, x: str, out: str, w: np.ndarray, b: np.ndarray) -> tuple[onnx.NodeProto, list]:
    node = helper.make_node("Conv", [x, f"{name}.weight", f"{name}.bias"], [out], name=f"/{name}/Conv",
                            kernel_shape=list(w.shape[2:]), pads=[1, 1, 1, 1])
    return node, [numpy_helper.from_array(w, f"{name}.weight"), numpy_helper.from_array(b, f"{name}.bias")]


def _model(nodes: list, inits: list, out: str, out_shape: list[int]) -> bytes:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _segnet(crossed: bool = False) -> tuple[bytes, dict[str, np.ndarray]]:
    """conv1 → pool1 → conv2 → pool2 → unpool2 → conv3 → unpool1 (SegNet's nesting; crossed swaps the indices)."""
    rng = np.random.default_rng(0)
    w = {f"conv{i}": (rng.standard_normal((4, c, 3, 3)).astype(np.float32) * 0.3,
                      rng.standard_normal(4).astype(np.float32) * 0.1) for i, c in ((1, 3), (2, 4), (3, 4))}
    nodes, inits = [], []
    for name, x, out in (("conv1", "x", "c1"),):
        node, t = _conv(name, x, out, *w[name])
        nodes.append(node), inits.extend(t)
    nodes.append(_pool("pool1", "c1", "p1", "i1"))
    node, t = _conv("conv2", "p1", "c2", *w["conv2"])
    nodes.append(node), inits.extend(t)
    nodes.append(_pool("pool2", "c2", "p2", "i2"))
    nodes.append(_unpool("unpool2", "p2", "i1" if crossed else "i2", "u2"))
    node, t = _conv("conv3", "u2", "c3", *w["conv3"])
    nodes.append(node), inits.extend(t)
    nodes.append(_unpool("unpool1", "c3", "i2" if crossed else "i1", "u1"))
    return _model(nodes, inits, "u1", [1, 4, 16, 16]), {k: v for k, v in w.items()}


def test_an_onnx_maxunpool_runs_with_its_pools_indices_and_gives_torchs_maps(client) -> None:
    data, w = _segnet()
    r = client.post("/api/v1/models", files={"file": ("m.onnx", data, "application/octet-stream")})
    assert r.status_code == 200, r.text
    layers = {layer["name"]: layer for layer in r.json()["network"]["layers"]}
    assert layers["unpool2"]["op"] == "max_unpool2d" and layers["unpool2"]["input"] == "pool2"
    png, x = _png(16)
    image_id = client.post("/api/v1/images", files={"file": ("p.png", png, "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "model": {"id": r.json()["id"]},
                                              "encoding": "f32", "max_side": 1024})
    assert r.status_code == 200, r.text
    blocks = {b["name"]: b for b in r.json()["layers"]}
    t = {k: (torch.from_numpy(a), torch.from_numpy(b)) for k, (a, b) in w.items()}
    c1 = F.conv2d(x, *t["conv1"], padding=1)
    p1, i1 = F.max_pool2d(c1, 2, 2, return_indices=True)
    c2 = F.conv2d(p1, *t["conv2"], padding=1)
    p2, i2 = F.max_pool2d(c2, 2, 2, return_indices=True)
    u2 = F.max_unpool2d(p2, i2, 2, 2)
    c3 = F.conv2d(u2, *t["conv3"], padding=1)
    u1 = F.max_unpool2d(c3, i1, 2, 2)
    for name, want in (("pool2", p2), ("unpool2", u2), ("conv3", c3), ("unpool1", u1)):
        np.testing.assert_allclose(_maps(blocks[name]), want[0].numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    assert np.count_nonzero(_maps(blocks["unpool1"])) <= 4 * 8 * 8  # one value per 2×2 window


def test_maxunpool_refusals_name_the_node(client) -> None:
    data, _ = _segnet(crossed=True)
    r = client.post("/api/v1/models", files={"file": ("m.onnx", data, "application/octet-stream")})
    assert r.status_code == 422 and "/unpool2/MaxUnpool" in r.json()["error"] and "'pool1'" in r.json()["error"]
    node = helper.make_node("MaxUnpool", ["x", "idx"], ["y"], name="/u/MaxUnpool", kernel_shape=[2, 2], strides=[2, 2])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 16, 16])],
                              initializer=[numpy_helper.from_array(np.zeros((1, 3, 8, 8), np.int64), "idx")])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    r = client.post("/api/v1/models", files={"file": ("m.onnx", data, "application/octet-stream")})
    assert r.status_code == 422 and "no MaxPool" in r.json()["error"]
    assert client.get("/api/v1/health").json()["ok"] is True
