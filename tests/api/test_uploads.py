"""Uploads over real HTTP (a live uvicorn): every awkward file the issue lists is converted or refused with a
clear 413/415/422, the server keeps serving, the multipart form is read within limits, and nothing is written
to disk. The files are made by the tests (tests/core/test_images.py holds the builders)."""
from __future__ import annotations

import io
import os
import sys

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.core.test_images import (_animated_gif, _CMYK_RED, _encode, _jpeg_with_app1, _marked, _noise,
                                    _palette_with_transparency, _png_declaring)

_PNG = _encode(_noise(), "PNG")
_JPG = _encode(_noise(), "JPEG")


def _exif6() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(_marked(), "JPEG", exif=exif.tobytes(), quality=95)


REFUSED = [
    pytest.param(b"", 415, "empty", id="zero-bytes"),
    pytest.param(_PNG[: len(_PNG) // 2], 422, "truncated", id="truncated-png"),
    pytest.param(_JPG[: len(_JPG) // 2], 422, "truncated", id="truncated-jpeg"),
    pytest.param(b"just some words, saved as photo.png\n", 415, "plain text", id="text-named-png"),
    pytest.param(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
                 415, "SVG", id="svg"),
    pytest.param(b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>", 415, "HTML", id="html"),
    pytest.param(_png_declaring(100_000, 100_000), 413, "decompression", id="decompression-bomb"),
]

# (file, expected width, height, channels, a check of the pixels the server holds)
ACCEPTED = [
    pytest.param(_encode(Image.new("L", (1, 1), 128), "PNG"), 1, 1, 1, (0, 0, [128]), id="1x1"),
    pytest.param(_encode(Image.new("L", (1, 10_000), 200), "PNG"), 1, 1024, 1, (500, 0, [200]), id="1x10000"),
    pytest.param(_animated_gif(), 8, 8, 3, (4, 4, [255, 0, 0]), id="animated-gif-first-frame"),
    pytest.param(_encode(_CMYK_RED, "JPEG", quality=95), 16, 16, 3, (8, 8, [255, 0, 0]), id="cmyk-jpeg"),
    pytest.param(_encode(Image.fromarray(np.full((4, 6), 32768, np.uint16)), "PNG"), 6, 4, 1, (1, 1, [128]),
                 id="16-bit-png"),
    pytest.param(_encode(_palette_with_transparency(), "PNG"), 4, 2, 3, (0, 0, [255, 255, 255]),
                 id="palette-transparency-on-white"),
    pytest.param(_jpeg_with_app1(_marked(), b"Exif\x00\x00" + b"\x13\x37" * 20), 40, 20, 3, (2, 2, [255, 0, 0]),
                 id="corrupt-exif-kept-unrotated"),
    pytest.param(_exif6(), 20, 40, 3, (2, 17, [255, 0, 0]), id="exif-orientation-applied"),
]


def _upload(url: str, data: bytes, name: str = "photo.png", kind: str = "image/png") -> httpx.Response:
    return httpx.post(url + "/api/v1/images", files={"file": (name, data, kind)}, timeout=30)


@pytest.mark.parametrize(("data", "status", "word"), REFUSED)
def test_bad_files_are_refused_with_a_sentence(live_server: str, data: bytes, status: int, word: str) -> None:
    r = _upload(live_server, data)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["ok"] is False and body["status"] == status and word.lower() in body["error"].lower()
    assert r.headers["content-type"].startswith("application/json")
    assert httpx.get(live_server + "/api/v1/health", timeout=10).status_code == 200  # still serving


@pytest.mark.parametrize(("data", "width", "height", "channels", "pixel"), ACCEPTED)
def test_awkward_files_are_converted(live_server: str, data: bytes, width: int, height: int, channels: int,
                                     pixel: tuple[int, int, list[int]]) -> None:
    r = _upload(live_server, data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"], body["channels"]) == (width, height, channels)
    png = httpx.get(f"{live_server}/api/v1/images/{body['id']}/png", timeout=10)
    arr = np.asarray(Image.open(io.BytesIO(png.content)))
    y, x, want = pixel
    got = arr[y, x] if arr.ndim == 3 else [arr[y, x]]
    np.testing.assert_allclose(np.asarray(got, dtype=float), want, atol=8)


@pytest.mark.parametrize(("files", "data", "status", "word"), [
    pytest.param({"file": ("a.png", _PNG, "image/png"), "other": ("b.png", _PNG, "image/png")}, None, 422,
                 "one image at a time", id="two-files"),
    pytest.param({"picture": ("a.png", _PNG, "image/png")}, None, 422, "field named 'file'", id="wrong-field"),
    pytest.param({"file": ("a.png", _PNG, "image/png")}, {f"f{i}": "x" for i in range(9)}, 422, "parts",
                 id="too-many-parts"),
    pytest.param({"file": ("a.png", _PNG, "image/png")}, {"note": "x" * 5000}, 413, "field 'note'",
                 id="long-text-field"),
])
def test_form_limits(client, files: dict, data: dict | None, status: int, word: str) -> None:
    r = client.post("/api/v1/images", files=files, data=data)
    assert r.status_code == status, r.text
    assert r.json()["ok"] is False and word in r.json()["error"]


def test_malformed_and_non_multipart_bodies(client) -> None:
    r = client.post("/api/v1/images", content=_PNG, headers={"content-type": "image/png"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = client.post("/api/v1/images", content=b"--x\r\nno headers at all", headers={
        "content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 422 and r.json()["ok"] is False
    r = client.post("/api/v1/images", content=b"", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 422 and "boundary" in r.json()["error"]


def test_an_upload_past_the_cap_is_413(client, app) -> None:
    cap = app.state.settings.max_upload_bytes
    r = client.post("/api/v1/images", files={"file": ("big.png", b"\0" * (cap + 1), "image/png")})
    assert r.status_code == 413 and r.json()["ok"] is False


@pytest.fixture
def audit_writes():
    """Record every file opened for writing (Python's audit events), while the test runs."""
    state = {"on": True, "writes": []}

    def hook(event: str, args: tuple) -> None:
        if not state["on"]:
            return
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = (isinstance(mode, str) and set(mode) & set("wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            if writing and not str(path).startswith("/dev/"):
                state["writes"].append(str(path))
        elif event in ("tempfile.mkstemp", "tempfile.mkdtemp", "os.mkdir", "os.rename", "shutil.copyfile"):
            state["writes"].append(f"{event} {args[:1]}")

    sys.addaudithook(hook)  # hooks cannot be removed; the flag turns it off
    yield state["writes"]
    state["on"] = False


def test_uploads_and_pipelines_write_nothing_to_disk(client, audit_writes) -> None:
    big = _encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (900, 900, 3), dtype=np.uint8)), "PNG")
    assert len(big) > 1024 * 1024  # past the size at which form parsers spill to a temporary file
    for data in (big, _PNG, _JPG, _animated_gif(), b"not an image"):
        client.post("/api/v1/images", files={"file": ("x.png", data, "image/png")})
    image_id = client.post("/api/v1/images", files={"file": ("x.png", big, "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "image_max_side": 128,
                                              "layers": [{"op": "conv2d", "kernel": "sobel_x"}]})
    assert r.status_code == 200
    assert audit_writes == []  # not one file opened for writing, nor a temporary file made, by this process
