"""/equivariance on the student's own photo: the uploaded image's centred square, resized, measured like a sample."""
from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def _upload(client, pixels: np.ndarray) -> str:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    reply = client.post("/api/v1/images", files={"file": ("mine.png", out.getvalue(), "image/png")})
    assert reply.status_code == 200, reply.text
    return reply.json()["id"]


def test_an_uploaded_image_is_measured_on_its_centred_square(client) -> None:
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)  # landscape: the middle 90 columns are used
    image_id = _upload(client, pixels)
    r = client.post("/api/v1/equivariance", json={"image": {"id": image_id}, "size": 64, "dy": 2, "dx": 3,
                                                   "stride": 2})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["sample"] == "upload" and data["conv"]["interior_max_error"] == 0.0
    crop = torch.as_tensor(pixels[:, 20:110].astype(np.float32) / 255).permute(2, 0, 1)[None]
    want = F.interpolate(crop, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)[0].mean(0)
    np.testing.assert_allclose(np.array(data["image"]), want.double().numpy(), atol=1e-6)
    sample = client.post("/api/v1/equivariance", json={"sample": "camera", "size": 64}).json()
    assert data["image"] != sample["image"]  # the photo, not a sample


def test_an_unknown_upload_says_to_upload_again_and_a_bad_reference_is_explained(client) -> None:
    r = client.post("/api/v1/equivariance", json={"image": {"id": "0" * 64}})
    assert r.status_code == 404 and "upload it again" in r.json()["error"]
    r = client.post("/api/v1/equivariance", json={"image": {"sample": "camera"}})
    assert r.status_code == 422 and 'image must be {"id"' in r.json()["error"]
