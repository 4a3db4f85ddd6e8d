"""The image lab's pipeline through HTTP, every step against the loop reference (tests/reference.py).

A small image made here is uploaded; each case runs a stack with "encoding": "f32" at full size, and
every layer's maps are compared with the same stack computed in float64 by plain loops, with weights
written out here from their definitions (not taken from the server's kernel module).
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from PIL import Image

from tests import reference as ref
from tests.frames import map_bytes, read_frames

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
BOX3 = np.full((3, 3), 1 / 9)
CUSTOM = [[1.0, 0.0, 2.0], [0.0, -3.0, 0.5]]


def _image(seed: int = 5, size: tuple[int, int] = (13, 11)) -> tuple[bytes, np.ndarray]:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue(), arr.transpose(2, 0, 1)[None].astype(np.float64) / 255


def _f32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32).astype(np.float64)


def _bank(seed: int, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """The documented bank: numpy PCG64 normal(0, 1) / sqrt(fan_in), cast to float32."""
    return _f32(np.random.default_rng(seed).standard_normal(shape) / math.sqrt(fan_in))


def _depthwise(k: np.ndarray, c: int) -> np.ndarray:
    return np.broadcast_to(k, (c, 1, *k.shape)).copy()


def _batch_norm(x: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float) -> np.ndarray:
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        out[:, c] = (x[:, c] - mean[c]) / math.sqrt(var[c] + eps)
    return out


def _relu(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    for idx in np.ndindex(*x.shape):
        out[idx] = x[idx] if x[idx] > 0 else 0.0
    return out


def _reference(x: np.ndarray, layers: list[dict]) -> list[np.ndarray]:
    outs, pools = [], {}
    for i, layer in enumerate(layers):
        op, c = layer["op"], x.shape[1]
        if op == "conv2d":
            w, g = layer["_weight"](c), layer["_groups"](c)
            x = ref.conv(x, w, None, layer.get("stride", 1), layer.get("padding", 0), layer.get("dilation", 1), g,
                         layer.get("padding_mode", "zeros"))
        elif op == "conv_transpose2d":
            w, g = layer["_weight"](c), layer["_groups"](c)
            x = ref.conv_transpose(x, w, None, layer.get("stride", 1), layer.get("padding", 0),
                                   layer.get("output_padding", 0), g, layer.get("dilation", 1))
        elif op == "relu":
            x = _relu(x)
        elif op == "batch_norm2d":
            if layer.get("training", True):
                flat = x.transpose(1, 0, 2, 3).reshape(c, -1)
                x = _batch_norm(x, flat.mean(axis=1), flat.var(axis=1), 1e-5)
            else:
                x = _batch_norm(x, np.asarray(layer["running_mean"], float), np.asarray(layer["running_var"], float),
                                1e-5)
        elif op == "max_pool2d":
            shape = x.shape
            x, idx = ref.max_pool(x, layer["kernel_size"], layer.get("stride"), layer.get("padding", 0),
                                  layer.get("dilation", 1), layer.get("ceil_mode", False))
            pools[i] = (idx, shape)
        elif op == "avg_pool2d":
            x = ref.avg_pool(x, layer["kernel_size"], layer.get("stride"), layer.get("padding", 0),
                             layer.get("ceil_mode", False), layer.get("count_include_pad", True))
        elif op == "max_unpool2d":
            src = layers[layer["from"]]
            idx, shape = pools[layer["from"]]
            x = ref.max_unpool(x, idx, src["kernel_size"], src.get("stride"), src.get("padding", 0), list(shape[2:]))
        elif op == "interpolate":
            x = ref.interpolate(x, layer.get("size"), layer.get("scale_factor"), layer.get("mode", "nearest"),
                                layer.get("align_corners"))
        outs.append(x)
    return outs


def _per_channel(k: np.ndarray) -> dict:
    return {"_weight": lambda c: _depthwise(k, c), "_groups": lambda c: c}


def _shared(k: np.ndarray) -> dict:
    return {"_weight": lambda c: np.broadcast_to(k / c, (1, c, *k.shape)).copy(), "_groups": lambda c: 1}


CASES = [
    pytest.param([{"op": "conv2d", "kernel": "sobel_x", "padding": 1, **_per_channel(SOBEL_X)}], id="sobel-depthwise"),
    pytest.param([{"op": "conv2d", "kernel": "box", "mode": "shared", "stride": 2, "dilation": 2, **_shared(BOX3)}],
                 id="box-shared-stride-dilation"),
    pytest.param([{"op": "conv2d", "kernel": "random", "seed": 7, "out_channels": 6, "groups": 3, "padding": 1,
                   "padding_mode": "reflect", "_weight": lambda c: _bank(7, (6, 1, 3, 3), 9),
                   "_groups": lambda c: 3}], id="random-bank-grouped-reflect"),
    pytest.param([{"op": "conv2d", "kernel": {"custom": CUSTOM}, "true_convolution": True, "padding": [1, 0],
                   **_per_channel(np.array(CUSTOM)[::-1, ::-1])}], id="custom-flipped-rectangular"),
    pytest.param([{"op": "conv_transpose2d", "kernel": "box", "stride": 2, "padding": 1, "output_padding": 1,
                   "_weight": lambda c: _depthwise(BOX3, c), "_groups": lambda c: c}], id="transposed-box"),
    pytest.param([{"op": "conv2d", "kernel": "random", "seed": 1, "out_channels": 4, "padding": 1,
                   "_weight": lambda c: _bank(1, (4, c, 3, 3), 9 * c), "_groups": lambda c: 1},
                  {"op": "batch_norm2d", "training": True}, {"op": "relu"}], id="bank-batchnorm-train-relu"),
    pytest.param([{"op": "batch_norm2d", "training": False, "running_mean": [0.5, 0.25, 0.0],
                   "running_var": [0.25, 1.0, 4.0]}], id="batchnorm-eval"),
    pytest.param([{"op": "max_pool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                  {"op": "max_unpool2d", "from": 0}], id="maxpool-ceil-then-unpool"),
    pytest.param([{"op": "avg_pool2d", "kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}],
                 id="avgpool-exclude-pad"),
    pytest.param([{"op": "interpolate", "scale_factor": 1.5, "mode": "bilinear"},
                  {"op": "interpolate", "size": [5, 7], "mode": "nearest"}], id="interpolate"),
]


def _decode(m: dict) -> np.ndarray:
    assert m["encoding"] == "f32" and m["factor"] == 1
    return np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["height"], m["width"]).astype(np.float64)


@pytest.fixture(scope="module")
def uploaded(client) -> tuple[str, np.ndarray]:
    data, pixels = _image()
    return client.post("/api/v1/images", files={"file": ("t.png", data, "image/png")}).json()["id"], pixels


@pytest.mark.parametrize("layers", CASES)
def test_every_step_matches_the_loop_reference(client, uploaded, layers: list[dict]) -> None:
    image_id, pixels = uploaded
    body = [{k: v for k, v in layer.items() if not k.startswith("_")} for layer in layers]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": body, "encoding": "f32",
                                              "max_side": 1024})
    assert r.status_code == 200, r.text
    got = r.json()
    np.testing.assert_allclose(np.stack([_decode(m) for m in got["input"]["maps"]]), pixels[0], atol=1e-7)
    for i, (layer, want) in enumerate(zip(got["layers"], _reference(pixels, layers))):
        assert layer["index"] == i and layer["shape"] == list(want.shape[1:])
        maps = np.stack([_decode(m) for m in layer["maps"]])
        np.testing.assert_allclose(maps, want[0], rtol=1e-5, atol=1e-5, err_msg=f"layer {i} ({layer['op']})")
        for c, m in enumerate(layer["maps"]):
            assert m["min"] == pytest.approx(want[0, c].min(), abs=1e-5)
            assert m["max"] == pytest.approx(want[0, c].max(), abs=1e-5)


def test_batch_norm_reports_its_statistics(client, uploaded) -> None:
    image_id, pixels = uploaded
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": [
        {"op": "batch_norm2d", "momentum": 0.5, "running_mean": 0.0, "running_var": 2.0}]})
    stats = r.json()["layers"][0]["stats"]
    flat = pixels[0].reshape(3, -1)
    np.testing.assert_allclose(stats["mean"], flat.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(stats["var"], flat.var(axis=1), rtol=1e-4)
    n = flat.shape[1]
    np.testing.assert_allclose(stats["running_mean"], 0.5 * flat.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(stats["running_var"], 0.5 * 2.0 + 0.5 * flat.var(axis=1) * n / (n - 1), rtol=1e-4)
    assert stats["training"] is True and stats["running_var_before"] == [2.0] * 3


def test_window_geometry_of_each_layer(client, uploaded) -> None:
    image_id, _ = uploaded
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": [
        {"op": "conv2d", "kernel": "box", "stride": 2, "padding": 1, "dilation": 2},
        {"op": "max_pool2d", "kernel_size": 2}, {"op": "conv_transpose2d", "kernel": "box", "stride": 3}]})
    conv, pool, convt = r.json()["layers"]
    ay, ax = conv["sweep"]["axes"]
    assert conv["sweep"]["kind"] == "window" and ay["n_in"] == 11 and ax["n_in"] == 13
    assert ay["starts"] == [o * 2 - 1 for o in range(ay["n_out"])] and ay["taps"] == [0, 2, 4]
    assert ay["n_out"] == ref.conv_output_size(11, 3, 2, 1, 1, 2) and ay["padding"] == [1, 1]
    assert pool["sweep"]["axes"][0]["taps"] == [0, 1] and pool["sweep"]["axes"][0]["padding"] == [0, 0]
    sy, _ = convt["sweep"]["axes"]
    assert convt["sweep"]["kind"] == "scatter" and sy["starts"] == [i * 3 for i in range(sy["n_in"])]
    assert conv["field"]["j"] == [2, 2] and conv["field"]["r"] == [5, 5] and conv["field"]["start"] == [1.5, 1.5]


def test_the_stream_carries_the_same_maps_as_json(client, uploaded) -> None:
    image_id, _ = uploaded
    body = {"image": {"id": image_id}, "layers": [{"op": "conv2d", "kernel": "sobel_y", "padding": 1},
                                                  {"op": "max_pool2d", "kernel_size": 2}], "max_side": 8}
    as_json = client.post("/api/v1/pipeline", json=body).json()
    r = client.post("/api/v1/pipeline", json={**body, "transport": "stream"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.convscope.frames"
    frames = list(read_frames([r.content]))
    events = [h["event"] for h, _ in frames]
    assert events == ["start", "maps", "maps", "maps", "done"]
    assert frames[0][0]["layers"] == 2 and frames[0][0]["image"] == as_json["image"]
    blocks = [as_json["input"], *as_json["layers"]]
    for (header, payload), block in zip(frames[1:4], blocks):
        assert header["shape"] == block["shape"] and header["field"] == block["field"]
        assert [base64.b64encode(b).decode() for b in map_bytes(header, payload)] == [m["data"] for m in block["maps"]]


def test_image_max_side_resizes_before_the_first_layer(client) -> None:
    data, _ = _image(size=(300, 150))
    image_id = client.post("/api/v1/images", files={"file": ("w.png", data, "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "image_max_side": 100, "layers": []})
    assert r.json()["input"]["shape"] == [3, 50, 100] and r.json()["image"]["resized"] is True
    r = client.post("/api/v1/pipeline", json={"image": {"sample": "checkerboard"}, "image_max_side": 64,
                                              "layers": []})
    assert r.json()["input"]["shape"][1:] == [64, 64]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "image_max_side": 4, "layers": []})
    assert r.status_code == 422 and "image_max_side" in r.json()["error"]


@pytest.mark.parametrize(("layers", "words"), [
    pytest.param([{"op": "conv2d", "kernel": "random", "out_channels": 4, "groups": 2}], "groups (2) must divide",
                 id="groups-not-dividing-3-channels"),
    pytest.param([{"op": "conv2d", "kernel": "box", "groups": 3}], "give out_channels", id="groups-without-bank"),
    pytest.param([{"op": "batch_norm2d", "running_mean": [0, 0]}], "list of 3 numbers", id="running-mean-length"),
    pytest.param([{"op": "batch_norm2d", "training": "yes"}], "true or false", id="training-not-bool"),
])
def test_lab_layer_refusals(client, uploaded, layers: list[dict], words: str) -> None:
    r = client.post("/api/v1/pipeline", json={"image": {"id": uploaded[0]}, "layers": layers})
    assert r.status_code == 422 and r.json()["error"].startswith("Layer 0") and words in r.json()["error"], r.text
