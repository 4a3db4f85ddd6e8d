"""/pipeline and /pipeline/probe on networks with skip connections, against torch modules built here.

Each network is written in the registry's form (name, input, add / concat) with the lab's convolutions
(seeded random banks, named kernels), run on an uploaded image, and every node's maps are compared with
the same network as torch.nn modules (tests/networks.py) given the weights the lab documents.
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from tests.networks import TorchNetwork


def _bank(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """The lab's documented bank: numpy PCG64 normal(0, 1) / sqrt(fan_in), float32."""
    fan_in = math.prod(shape[1:])
    return (np.random.default_rng(seed).standard_normal(shape) / math.sqrt(fan_in)).astype(np.float32)


@pytest.fixture(scope="module")
def image(client) -> tuple[str, torch.Tensor]:
    arr = np.random.default_rng(11).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    image_id = client.post("/api/v1/images", files={"file": ("g.png", buf.getvalue(), "image/png")}).json()["id"]
    return image_id, torch.tensor(arr.transpose(2, 0, 1) / 255, dtype=torch.float32)[None]


def _maps(block: dict) -> np.ndarray:
    return np.stack([np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["height"], m["width"])
                     for m in block["maps"]])


def _conv(name: str, seed: int, c_in: int, out: int, k: int, **kw) -> tuple[dict, dict, dict]:
    """The lab layer, the torch layer (the registry's form) and its weight."""
    lab = {"op": "conv2d", "name": name, "kernel": "random", "seed": seed, "out_channels": out, "kernel_size": k,
           **kw}
    plain = {"op": "conv2d", "name": name, "out_channels": out, "kernel_size": k, "bias": False,
             **{key: v for key, v in kw.items() if key != "input"}}
    if "input" in kw:
        plain["input"] = kw["input"]
    return lab, plain, {"weight": _bank(seed, (out, c_in, k, k))}


def _residual() -> tuple[list[dict], list[dict], dict]:
    parts = [_conv("conv1", 1, 3, 6, 3, stride=2, padding=1), _conv("conv2", 2, 6, 6, 3, padding=1),
             _conv("proj", 3, 3, 6, 1, stride=2, input="input")]
    lab = [parts[0][0], {"op": "relu", "name": "relu1"}, parts[1][0], parts[2][0],
           {"op": "add", "name": "sum", "inputs": ["conv2", "proj"]}, {"op": "relu", "name": "out"}]
    plain = [parts[0][1], lab[1], parts[1][1], parts[2][1], lab[4], lab[5]]
    return lab, plain, {p[0]["name"]: p[2] for p in parts}


def _unet() -> tuple[list[dict], list[dict], dict]:
    parts = [_conv("down", 4, 3, 4, 3, padding=1), _conv("mid", 5, 4, 8, 3, padding=1),
             _conv("head", 6, 12, 2, 1)]
    lab = [parts[0][0], {"op": "relu", "name": "d"}, {"op": "max_pool2d", "name": "pool", "kernel_size": 2},
           parts[1][0], {"op": "interpolate", "name": "up", "scale_factor": 2, "mode": "nearest"},
           {"op": "concat", "name": "skip", "inputs": ["d", "up"]}, parts[2][0]]
    plain = [parts[0][1], lab[1], lab[2], parts[1][1], lab[4], lab[5], parts[2][1]]
    return lab, plain, {p[0]["name"]: p[2] for p in parts}


@pytest.mark.parametrize("build", [_residual, _unet], ids=["residual-block", "unet-concat"])
def test_every_node_of_a_graph_matches_torch(client, image, build) -> None:
    image_id, x = image
    lab, plain, weights = build()
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": lab, "encoding": "f32",
                                              "max_side": 1024})
    assert r.status_code == 200, r.text
    body = r.json()
    net = TorchNetwork({"input_shape": [3, 16, 20], "layers": plain}, weights)
    values = {"input": x}
    with torch.no_grad():
        for layer in plain:
            values[layer["name"]] = net._apply(layer, [values[n] for n in net.reads[layer["name"]]])
    assert [b["name"] for b in body["layers"]] == [layer["name"] for layer in plain]
    for block, layer in zip(body["layers"], plain):
        want = values[layer["name"]][0].numpy()
        assert block["shape"] == list(want.shape) and block["inputs"] == net.reads[layer["name"]]
        np.testing.assert_allclose(_maps(block), want, rtol=1e-5, atol=1e-5, err_msg=layer["name"])


def test_the_probe_follows_both_paths_of_a_residual_block(client, image) -> None:
    image_id, x = image
    lab, plain, weights = _residual()
    unit = {"layer": 5, "y": 3, "x": 4, "channel": 1}  # the add
    r = client.post("/api/v1/pipeline/probe", json={"image": {"id": image_id}, "layers": lab, "unit": unit,
                                                    "max_side": 1024})
    assert r.status_code == 200, r.text
    got = r.json()
    rf = client.post("/api/v1/receptive-field", json={"input_shape": [3, 16, 20], "layers": plain,
                                                      "unit": unit}).json()
    assert got["region"] == rf["region"] and got["clipped"] == rf["clipped"]
    net = TorchNetwork({"input_shape": [3, 16, 20], "layers": plain}, weights)
    xg = x.clone().requires_grad_(True)
    values = {"input": xg}
    for layer in plain:
        values[layer["name"]] = net._apply(layer, [values[n] for n in net.reads[layer["name"]]])
    value = values["sum"][0, 1, 3, 4]
    assert got["unit"]["value"] == pytest.approx(float(value.detach()), rel=1e-5, abs=1e-6)
    (grad,) = torch.autograd.grad(value, xg)
    g = grad[0].abs().sum(0).numpy()
    assert got["effective"]["nonzero"] == int(np.count_nonzero(g))
    rows, cols = np.flatnonzero(g.any(1)), np.flatnonzero(g.any(0))
    assert got["effective"]["bbox"] == {"y0": rows[0], "y1": rows[-1] + 1, "x0": cols[0], "x1": cols[-1] + 1}
    clip = got["clipped"]
    assert clip["y0"] <= rows[0] and rows[-1] < clip["y1"] and clip["x0"] <= cols[0] and cols[-1] < clip["x1"]
    names = [c["name"] for c in got["hypercolumn"]["layers"]]
    assert names == ["input", *[layer["name"] for layer in plain]]
    assert got["hypercolumn"]["length"] == 3 + 6 * 6


@pytest.mark.parametrize(("layers", "words"), [
    pytest.param([{"op": "conv2d", "name": "a", "kernel": "box"}, {"op": "add", "inputs": ["a", "b"]}],
                 "Layer 1 (add) reads 'b', which names no layer before it", id="unknown-name"),
    pytest.param([{"op": "relu", "input": "later"}, {"op": "relu", "name": "later"}],
                 "Layer 0 (relu) reads 'later', but 'later' is layer 1 (relu), defined after it", id="cycle"),
    pytest.param([{"op": "max_pool2d", "name": "p", "kernel_size": 2},
                  {"op": "add", "inputs": ["p", "input"]}],
                 "Layer 1 (add): 'p' is 3×8×10 but 'input' is 3×16×20", id="shape-mismatch-add"),
    pytest.param([{"op": "conv2d", "name": "one", "kernel": "box", "mode": "shared", "stride": 2},
                  {"op": "concat", "inputs": ["one", "input"]}],
                 "Layer 1 (concat): 'one' is 1×7×9 but 'input' is 3×16×20", id="shape-mismatch-concat"),
])
def test_graph_errors_name_both_layers_and_the_numbers(client, image, layers, words) -> None:
    for path, extra in (("/api/v1/pipeline", {}), ("/api/v1/pipeline/probe", {"unit": {"layer": 0, "y": 0, "x": 0}})):
        r = client.post(path, json={"image": {"id": image[0]}, "layers": layers, **extra})
        assert r.status_code == 422 and r.json()["error"].startswith(words), r.text
        assert r.json()["errors"][0]["loc"][:2] == ["layers", int(words.split()[1])]


def test_unpool_from_names_its_pool(client, image) -> None:
    image_id, x = image
    layers = [{"op": "max_pool2d", "name": "p1", "kernel_size": 2}, {"op": "relu", "name": "r"},
              {"op": "max_unpool2d", "from": "p1"}]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": layers, "encoding": "f32",
                                              "max_side": 1024})
    assert r.status_code == 200, r.text
    pooled, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    want = torch.nn.functional.max_unpool2d(pooled, idx, 2, output_size=[16, 20])[0].numpy()
    np.testing.assert_allclose(_maps(r.json()["layers"][2]), want, atol=1e-7)


def test_an_unpool_without_from_takes_the_latest_pool(client, image) -> None:
    image_id, x = image
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "encoding": "f32", "max_side": 1024,
                                              "layers": [{"op": "max_pool2d", "kernel_size": 2}, {"op": "max_unpool2d"}]})
    assert r.status_code == 200, r.text
    pooled, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    want = torch.nn.functional.max_unpool2d(pooled, idx, 2, output_size=[16, 20])[0].numpy()
    np.testing.assert_allclose(_maps(r.json()["layers"][1]), want, atol=1e-7)
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": [{"op": "max_unpool2d"}]})
    assert r.status_code == 422 and r.json()["error"].startswith("Layer 0 (max_unpool2d): 'from' must be")
