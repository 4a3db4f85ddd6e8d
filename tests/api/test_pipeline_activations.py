"""The lab pipeline runs the activation kinds of uploaded models: relu6, leaky_relu, sigmoid, tanh."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image


def _upload(client) -> tuple[str, np.ndarray]:
    arr = np.random.default_rng(3).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    image_id = client.post("/api/v1/images", files={"file": ("a.png", buf.getvalue(), "image/png")}).json()["id"]
    return image_id, arr.transpose(2, 0, 1).astype(np.float64) / 255


def _maps(layer: dict) -> np.ndarray:
    return np.stack([np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["height"], m["width"])
                     for m in layer["maps"]]).astype(np.float64)




@pytest.mark.parametrize("op, args, fn, scale", [
    ("relu6", {}, lambda x: np.clip(x, 0, 6), 12.0),
    ("leaky_relu", {"negative_slope": 0.2}, lambda x: np.where(x >= 0, x, 0.2 * x), -8.0),
    ("sigmoid", {}, lambda x: 1 / (1 + np.exp(-x)), -8.0),
    ("tanh", {}, np.tanh, -8.0)])
def test_activation_forward(client, op, args, fn, scale):
    image_id, pixels = _upload(client)
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "encoding": "f32", "layers": [
        {"op": "conv2d", "kernel": [[scale]], "mode": "per_channel"}, {"op": op, **args}]})
    assert r.status_code == 200, r.text
    got = _maps(r.json()["layers"][1])
    np.testing.assert_allclose(got, fn(scale * pixels.astype(np.float32).astype(np.float64)), rtol=1e-5, atol=1e-5)


def test_a_bad_slope_is_refused(client):
    image_id, _ = _upload(client)
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": [
        {"op": "leaky_relu", "negative_slope": "steep"}]})
    assert r.status_code == 422 and "negative_slope must be a number" in r.json()["error"]
