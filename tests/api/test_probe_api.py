"""POST /api/v1/pipeline/probe and the streamed pipeline's cancel, through HTTP.

The probe's value is checked against the loop reference, its theoretical field against /receptive-field
for the same stack, its effective field against the kernel's own nonzero taps (for one linear layer the
gradient is exactly the kernel), and its hypercolumn against the reference interpolate of every map.
"""
from __future__ import annotations

import base64
import io
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from tests import reference as ref
from tests.frames import read_frames

KERNEL = [[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 0.0, -1.0]]


def _gray(seed: int = 2, size: tuple[int, int] = (12, 10)) -> tuple[bytes, np.ndarray]:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue(), arr[None, None].astype(np.float64) / 255


@pytest.fixture(scope="module")
def gray(client) -> tuple[str, np.ndarray]:
    data, pixels = _gray()
    return client.post("/api/v1/images", files={"file": ("g.png", data, "image/png")}).json()["id"], pixels


def _probe(client, image_id: str, layers: list[dict], unit: dict, **extra) -> dict:
    r = client.post("/api/v1/pipeline/probe", json={"image": {"id": image_id}, "layers": layers, "unit": unit,
                                                    "max_side": 1024, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def _heat(result: dict) -> np.ndarray:
    m = result["effective"]["map"]
    codes = np.frombuffer(base64.b64decode(m["data"]), np.uint8).reshape(m["height"], m["width"])
    return m["min"] + codes * (m["max"] - m["min"]) / 255


def test_one_linear_layer_its_gradient_is_the_kernel(client, gray) -> None:
    image_id, pixels = gray
    layers = [{"op": "conv2d", "kernel": {"custom": KERNEL}}]
    result = _probe(client, image_id, layers, {"layer": 1, "y": 4, "x": 6})
    want = ref.conv(pixels, np.array(KERNEL)[None, None])[0, 0, 4, 6]
    assert result["unit"]["value"] == pytest.approx(want, rel=1e-5)
    heat = _heat(result)
    expected = np.zeros_like(heat)
    expected[4:7, 6:9] = np.abs(KERNEL)
    np.testing.assert_allclose(heat, expected, atol=3 / 255 * 1.01)
    assert result["effective"]["nonzero"] == 4 and result["effective"]["bbox"] == {"y0": 4, "y1": 7, "x0": 6, "x1": 9}
    assert result["region"] == {"y0": 4, "y1": 7, "x0": 6, "x1": 9} == result["clipped"]


def test_the_theoretical_field_is_the_receptive_field_apis(client, gray) -> None:
    image_id, _ = gray
    layers = [{"op": "conv2d", "kernel": "box", "padding": 1}, {"op": "relu"}, {"op": "max_pool2d", "kernel_size": 2},
              {"op": "conv2d", "kernel": "sobel_x", "dilation": 2}]
    result = _probe(client, image_id, layers, {"layer": 4, "y": 0, "x": 1})
    stack = [{"op": "conv2d", "out_channels": 1, "kernel_size": 3, "padding": 1}, {"op": "relu"},
             {"op": "max_pool2d", "kernel_size": 2}, {"op": "conv2d", "out_channels": 1, "kernel_size": 3,
                                                      "dilation": 2}]
    rf = client.post("/api/v1/receptive-field", json={"input_size": [10, 12], "layers": stack,
                                                      "unit": {"layer": 4, "y": 0, "x": 1}}).json()
    assert result["region"] == rf["region"] and result["clipped"] == rf["clipped"]
    assert result["unit"]["centre"] == rf["unit"]["centre"]
    box, clip = result["effective"]["bbox"], result["clipped"]
    assert box is not None and clip["y0"] <= box["y0"] and box["y1"] <= clip["y1"]
    assert clip["x0"] <= box["x0"] and box["x1"] <= clip["x1"]


def test_batch_norm_in_training_spreads_the_field_over_the_image(client, gray) -> None:
    image_id, _ = gray
    result = _probe(client, image_id, [{"op": "conv2d", "kernel": "box"}, {"op": "batch_norm2d"}],
                    {"layer": 2, "y": 3, "x": 3})
    assert result["effective"]["nonzero"] == 10 * 12 and result["region"] == {"y0": 3, "y1": 6, "x0": 3, "x1": 6}


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_the_hypercolumn_reads_every_map_resized_to_the_image(client, gray, mode: str) -> None:
    image_id, pixels = gray
    layers = [{"op": "conv2d", "kernel": "random", "seed": 4, "out_channels": 3, "padding": 1},
              {"op": "max_pool2d", "kernel_size": 2}, {"op": "conv2d", "kernel": "box", "stride": 2}]
    result = _probe(client, image_id, layers, {"layer": 3, "y": 0, "x": 1, "channel": 2}, hypercolumn=mode)
    maps = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": layers, "encoding": "f32",
                                                 "max_side": 1024}).json()
    blocks = [maps["input"], *maps["layers"]]
    py, px = result["hypercolumn"]["pixel"]
    assert (py, px) == (int(result["unit"]["centre"][0]), int(result["unit"]["centre"][1]))
    for column, block in zip(result["hypercolumn"]["layers"], blocks, strict=True):
        stack = np.stack([np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["height"], m["width"])
                          for m in block["maps"]]).astype(np.float64)[None]
        up = ref.interpolate(stack, size=[10, 12], mode=mode, align_corners=False if mode == "bilinear" else None)
        np.testing.assert_allclose(column["values"], up[0, :, py, px], rtol=1e-5, atol=1e-6)
    assert result["hypercolumn"]["length"] == 1 + 3 + 3 + 3


@pytest.mark.parametrize(("unit", "status", "words"), [
    pytest.param({"layer": 1, "y": 99, "x": 0}, 422, "unit.y must be an integer from 0 to 7", id="y-out-of-range"),
    pytest.param({"layer": 5, "y": 0, "x": 0}, 422, "unit.layer", id="no-such-layer"),
    pytest.param({"layer": 1, "y": 0, "x": 0, "channel": 3}, 422, "unit.channel", id="no-such-channel"),
])
def test_probe_refusals(client, gray, unit: dict, status: int, words: str) -> None:
    r = client.post("/api/v1/pipeline/probe", json={"image": {"id": gray[0]}, "unit": unit,
                                                    "layers": [{"op": "conv2d", "kernel": "box"}]})
    assert r.status_code == status and words in r.json()["error"], r.text


def test_a_probe_past_the_cap_is_413(client) -> None:
    layers = [{"op": "conv2d", "kernel": "random", "out_channels": 64, "padding": 1}] * 3
    r = client.post("/api/v1/pipeline/probe", json={"image": {"sample": "camera"}, "layers": layers,
                                                    "unit": {"layer": 1, "y": 0, "x": 0}})
    assert r.status_code == 413 and "smaller image side" in r.json()["error"]


def _health(url: str) -> dict:
    return httpx.get(url + "/api/v1/health", timeout=10).json()


def test_closing_the_stream_stops_the_work_and_frees_the_slot(live_server: str) -> None:
    before = _health(live_server)["compute"]["cancelled"]
    heavy = [{"op": "conv2d", "kernel": "random", "seed": i, "out_channels": 32, "padding": 1} for i in range(12)]
    body = {"image": {"sample": "camera"}, "layers": heavy, "transport": "stream"}
    seen = []
    with httpx.Client(timeout=60) as c, c.stream("POST", live_server + "/api/v1/pipeline", json=body) as r:
        assert r.status_code == 200
        for header, _ in read_frames(r.iter_raw()):
            seen.append(header["event"])
            if header["event"] == "maps" and header["index"] == 0:
                break  # the client goes away after the first layer
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        compute = _health(live_server)["compute"]
        if compute["cancelled"] > before and compute["running"] == 0:
            break
        time.sleep(0.2)
    assert compute["cancelled"] == before + 1 and compute["running"] == 0 and compute["waiting"] == 0
    assert seen == ["start", "maps", "maps"]
    small = {"image": {"sample": "checkerboard"}, "layers": [{"op": "relu"}]}
    assert httpx.post(live_server + "/api/v1/pipeline", json=small, timeout=30).status_code == 200


@pytest.mark.parametrize(("mode", "unit", "wrapped"), [
    ("circular", {"layer": 1, "y": 0, "x": 11}, {"y": [[8, 10]], "x": [[0, 2]]}),
    ("reflect", {"layer": 1, "y": 0, "x": 0}, {"y": [[1, 3]], "x": [[1, 3]]}),
])
def test_copying_padding_reads_the_wrapped_pixels(client, gray, mode: str, unit: dict, wrapped: dict) -> None:
    """The probe's wrapped parts: where the field wraps (circular) or mirrors (reflect, p > (k−1)/2), every
    pixel the gradient reaches is in clipped or in them, and they are reached."""
    image_id, _ = gray
    k, p = (5, 2) if mode == "circular" else (3, 2)
    layers = [{"op": "conv2d", "kernel": {"custom": np.ones((k, k)).tolist()}, "padding": p, "padding_mode": mode}]
    result = _probe(client, image_id, layers, unit)
    assert result["wrapped"] == wrapped
    heat = _heat(result) > 0
    c = result["clipped"]
    rows = set(range(c["y0"], c["y1"])).union(*(range(a, b) for a, b in wrapped["y"]))
    cols = set(range(c["x0"], c["x1"])).union(*(range(a, b) for a, b in wrapped["x"]))
    assert set(np.flatnonzero(heat.any(axis=1))) == rows and set(np.flatnonzero(heat.any(axis=0))) == cols
    zeros = _probe(client, image_id, [layers[0] | {"padding_mode": "zeros"}], unit)
    assert zeros["wrapped"] == {"y": [], "x": []} and zeros["clipped"] == c
