"""The image lab's API through HTTP: uploads, samples, kernels, and the pipeline against torch."""
from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from convscope.core.encoding import EncodedMap, decode_quantised
from convscope.core.kernels import get_kernel
from convscope.core.samples import load_sample


def _png(mode: str = "RGB", size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(3)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def _bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def _upload(client, data: bytes, name: str = "x.png", kind: str = "image/png"):
    return client.post("/api/v1/images", files={"file": (name, data, kind)})


def _map(d: dict) -> EncodedMap:
    return EncodedMap(d["channel"], d["encoding"], d["width"], d["height"], d["full_width"], d["full_height"],
                      d["factor"], d["min"], d["max"], base64.b64decode(d["data"]))


@pytest.mark.parametrize("fmt,mode,channels", [("PNG", "RGB", 3), ("JPEG", "RGB", 3), ("PNG", "L", 1)])
def test_upload_real_images(client, fmt: str, mode: str, channels: int) -> None:
    data = _png(mode, fmt=fmt)
    r = _upload(client, data, f"a.{fmt.lower()}", f"image/{fmt.lower()}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] and body["width"] == 40 and body["height"] == 30 and body["channels"] == channels
    assert len(body["id"]) == 64 and body["format"] == fmt and body["resized"] is False
    meta = client.get(f"/api/v1/images/{body['id']}").json()
    assert meta["id"] == body["id"] and meta["width"] == 40
    png = client.get(f"/api/v1/images/{body['id']}/png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (40, 30)


def test_large_upload_is_resized(client) -> None:
    body = _upload(client, _png("L", (2000, 500))).json()
    assert body["resized"] is True and body["width"] == 1024 and body["original_width"] == 2000


@pytest.mark.parametrize("data,status,word", [
    (b"hello, this is text and not an image\n", 415, "not an accepted format"),
    (b"", 415, "empty"),
    (_bomb(), 413, "pixels"),
])
def test_bad_uploads_are_refused(client, data: bytes, status: int, word: str) -> None:
    r = _upload(client, data, "fake.png")
    assert r.status_code == status, r.text
    body = r.json()
    assert body["ok"] is False and body["status"] == status and word in body["error"]


def test_upload_needs_multipart_with_a_file_field(client) -> None:
    r = client.post("/api/v1/images", content=_png(), headers={"content-type": "image/png"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = client.post("/api/v1/images", files={"other": ("a.png", _png(), "image/png")})
    assert r.status_code == 422 and "'file'" in r.json()["error"]


def test_unknown_and_malformed_ids(client) -> None:
    r = client.get("/api/v1/images/" + "ab" * 32)
    assert r.status_code == 404 and r.json()["ok"] is False and "upload it again" in r.json()["error"]
    assert client.get("/api/v1/images/" + "ab" * 32 + "/png").status_code == 404
    assert client.get("/api/v1/images/nothex").status_code == 422
    r = client.post("/api/v1/pipeline", json={"image": {"id": "cd" * 32}, "layers": []})
    assert r.status_code == 404 and r.json()["ok"] is False


def test_samples_and_kernels(client) -> None:
    samples = client.get("/api/v1/samples").json()["samples"]
    names = [s["id"] for s in samples]
    assert "camera" in names or len(names) >= 3
    name = names[0]
    meta = client.get(f"/api/v1/samples/{name}").json()
    assert meta["ok"] and meta["id"] == name
    png = client.get(f"/api/v1/samples/{name}/png")
    assert png.status_code == 200 and Image.open(io.BytesIO(png.content)).size == (meta["width"], meta["height"])
    assert client.get("/api/v1/samples/nope").status_code == 404
    kernels = client.get("/api/v1/kernels").json()["kernels"]
    assert {"sobel_x", "gaussian", "random"} <= {k["name"] for k in kernels}


def _sample_name(client) -> str:
    names = [s["id"] for s in client.get("/api/v1/samples").json()["samples"]]
    return "camera" if "camera" in names else names[0]


def test_pipeline_conv_matches_torch_within_one_step(client) -> None:
    name = _sample_name(client)
    layers = [{"op": "conv2d", "kernel": "sobel_x", "padding": 1}, {"op": "relu"},
              {"op": "max_pool2d", "kernel_size": 2}]
    r = client.post("/api/v1/pipeline", json={"image": {"sample": name}, "layers": layers, "max_side": 1024})
    assert r.status_code == 200, r.text
    body = r.json()
    img = load_sample(name, size=512)
    assert [layer["shape"] for layer in body["layers"]] == [
        [img.channels, img.height, img.width], [img.channels, img.height, img.width],
        [img.channels, img.height // 2, img.width // 2]]
    x = torch.tensor(np.array(img.pixels))[None]
    k = torch.tensor(get_kernel("sobel_x").weights, dtype=torch.float32)
    ref = F.conv2d(x, k.expand(img.channels, 1, 3, 3).contiguous(), padding=1, groups=img.channels)[0].numpy()
    for c, m in enumerate(body["layers"][0]["maps"]):
        em = _map(m)
        assert em.factor == 1
        step = (em.max - em.min) / 255
        assert em.min == pytest.approx(float(ref[c].min()), abs=1e-5)
        assert np.abs(decode_quantised(em) - ref[c]).max() <= step * 0.5 + 1e-5
    relu = _map(body["layers"][1]["maps"][0])
    assert relu.min >= 0


def test_pipeline_unpool_from_earlier_pool_and_display_size(client) -> None:
    data = _png("L", (64, 48))
    image_id = _upload(client, data).json()["id"]
    layers = [{"op": "max_pool2d", "kernel_size": 2}, {"op": "conv2d", "kernel": "identity", "padding": 1},
              {"op": "max_unpool2d", "from": 0}, {"op": "conv2d", "kernel": "random", "seed": 1,
                                                   "out_channels": 4}, {"op": "interpolate", "scale_factor": 0.5}]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": layers, "max_side": 16,
                                              "encoding": "png"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [lay["shape"] for lay in body["layers"]] == [[1, 24, 32], [1, 24, 32], [1, 48, 64], [4, 46, 62],
                                                        [4, 23, 31]]
    x = torch.tensor(np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32) / 255)[None, None]
    p, idx = F.max_pool2d(x, 2, return_indices=True)
    ref = F.max_unpool2d(p, idx, 2, output_size=[48, 64])[0, 0].numpy()
    em = _map(body["layers"][2]["maps"][0])
    assert em.encoding == "png" and em.factor == 4 and max(em.width, em.height) <= 16
    assert em.min == pytest.approx(float(ref.min()), abs=1e-6)
    assert em.max == pytest.approx(float(ref.max()), abs=1e-6)
    assert len(body["layers"][3]["maps"]) == 4


@pytest.mark.parametrize("layers,index,words", [
    ([{"op": "relu"}, {"op": "max_pool2d", "kernel_size": 2}, {"op": "max_pool2d", "kernel_size": 1000}],
     2, "Layer 2 (max_pool2d)"),
    ([{"op": "relu"}, {"op": "max_unpool2d", "from": 0}], 1, "Layer 1 (max_unpool2d)"),
    ([{"op": "conv2d", "kernel": "nope"}], 0, "Layer 0 (conv2d)"),
    ([{"op": "softmax"}], 0, "Layer 0"),
    ([{"op": "relu"}, {"op": "max_pool2d", "kernal_size": 2}], 1, "Layer 1 (max_pool2d): 'kernal_size'"),
    ([{"op": "conv2d", "kernel": "sobel_x", "dilation": 400}], 0, "Layer 0 (conv2d)"),
])
def test_illegal_layers_are_422_naming_the_index(client, layers, index: int, words: str) -> None:
    r = client.post("/api/v1/pipeline", json={"image": {"sample": _sample_name(client)}, "layers": layers})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["ok"] is False and body["error"].startswith(words)
    assert body["errors"][0]["loc"][:2] == ["layers", index]


def test_an_output_past_the_cap_is_413_naming_the_layer(client) -> None:
    r = client.post("/api/v1/pipeline", json={"image": {"sample": _sample_name(client)},
                                              "layers": [{"op": "interpolate", "scale_factor": 100}]})
    assert r.status_code == 413 and r.json()["error"].startswith("Layer 0 (interpolate): the output")
    assert r.json()["errors"][0]["loc"][:2] == ["layers", 0]


def test_pipeline_rejects_bad_image_ref_and_display(client) -> None:
    assert client.post("/api/v1/pipeline", json={"image": {}, "layers": []}).status_code == 422
    r = client.post("/api/v1/pipeline", json={"image": {"sample": _sample_name(client)}, "layers": [],
                                              "max_side": 5000})
    assert r.status_code == 422 and "max_side" in r.json()["error"]


@pytest.mark.parametrize("mode,channels", [("per_channel", 3), ("shared", 1)])
def test_conv_transpose_and_batch_norm_layers(client, mode: str, channels: int) -> None:
    data = _png("RGB", (20, 10))
    image_id = _upload(client, data).json()["id"]
    layers = [{"op": "conv_transpose2d", "kernel": "box", "mode": mode, "stride": 2},
              {"op": "batch_norm2d", "training": True}, {"op": "avg_pool2d", "kernel_size": 3, "stride": 2}]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": layers})
    assert r.status_code == 200, r.text
    shapes = [lay["shape"] for lay in r.json()["layers"]]
    assert shapes == [[channels, 21, 41], [channels, 21, 41], [channels, 10, 20]]
    x = torch.tensor(np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32).transpose(2, 0, 1) / 255)[None]
    k = torch.full((3, 3), 1 / 9)
    w = k.expand(3, 1, 3, 3) if mode == "per_channel" else (k / 3).expand(3, 1, 3, 3)
    ref = F.conv_transpose2d(x, w.contiguous(), stride=2, groups=3 if mode == "per_channel" else 1)[0]
    em = _map(r.json()["layers"][0]["maps"][0])
    assert em.min == pytest.approx(float(ref[0].min()), abs=1e-5)
    assert em.max == pytest.approx(float(ref[0].max()), abs=1e-5)


def test_true_convolution_flips_the_kernel(client) -> None:
    image_id = _upload(client, _png("L", (32, 24))).json()["id"]

    def run(flag: bool) -> EncodedMap:
        r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "layers": [
            {"op": "conv2d", "kernel": "sobel_x", "true_convolution": flag}]})
        assert r.status_code == 200, r.text
        assert r.json()["image"] == {"width": 32, "height": 24, "channels": 1, "resized": False,
                                     "original_width": 32, "original_height": 24}
        return _map(r.json()["layers"][0]["maps"][0])

    corr, conv = run(False), run(True)  # flipped Sobel x is −Sobel x
    assert conv.min == pytest.approx(-corr.max, abs=1e-5) and conv.max == pytest.approx(-corr.min, abs=1e-5)
