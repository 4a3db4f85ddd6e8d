"""Decoding, the image store, samples and feature-map encoding (server/core/images.py, encoding.py, samples.py).

Every test file is made here, in memory, with PIL or by hand (zlib/struct), so the cases
are exact and nothing is read from or written to disk.
"""
from __future__ import annotations

import builtins
import io
import os
import socket
import struct
import tempfile
import threading
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps, features

from convscope.core import images
from convscope.core.exceptions import InvalidRequest, NotFound, TooLarge, Unsupported
from convscope.core.encoding import encode_feature_maps
from convscope.core.images import DecodedImage, ImageStore, decode_image
from convscope.core.samples import SAMPLE_IDS, list_samples, load_sample

LIMITS = {"max_side": 64, "max_pixels": 1_000_000, "max_bytes": 2_000_000}


def _encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    """A ~70-byte grayscale PNG whose IHDR claims width×height: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))


def _noise(mode: str = "RGB", size: tuple[int, int] = (48, 32)) -> Image.Image:
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    return Image.fromarray(np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8))


def _jpeg_with_app1(im: Image.Image, payload: bytes) -> bytes:
    jpg = _encode(im, "JPEG", quality=95)
    return jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpg[2:]


# ---------------------------------------------------------------- refusals

_PNG = _encode(_noise(), "PNG")
_JPG = _encode(_noise(), "JPEG")


@pytest.mark.parametrize(("data", "error"), [
    pytest.param(b"", Unsupported, id="zero-bytes"),
    pytest.param(b"hello, convolution\n", Unsupported, id="text"),
    pytest.param(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', Unsupported, id="svg"),
    pytest.param(b"<!DOCTYPE html><html><body>img</body></html>", Unsupported, id="html"),
    pytest.param(_encode(_noise(), "TIFF"), Unsupported, id="tiff-not-allowed"),
    pytest.param(b"BMW, not a bitmap", Unsupported, id="bm-text"),
    pytest.param(_PNG[: len(_PNG) // 2], InvalidRequest, id="truncated-png"),
    pytest.param(_PNG[:20], InvalidRequest, id="png-signature-only"),
    pytest.param(_JPG[: len(_JPG) // 2], InvalidRequest, id="truncated-jpeg"),
    pytest.param(_JPG[:12], InvalidRequest, id="jpeg-header-only"),
    pytest.param(b"GIF89a", InvalidRequest, id="gif-header-only"),
])
def test_refused_uploads_get_a_teaching_sentence(data: bytes, error: type) -> None:
    with pytest.raises(error) as info:
        decode_image(data, **LIMITS)
    message = info.value.message
    assert info.value.status == {Unsupported: 415, InvalidRequest: 422}[error]
    assert "PNG, JPEG, WebP, GIF" in message and message.endswith(".") and "\n" not in message
    assert info.value.loc == ["file"]


@pytest.mark.parametrize(("width", "height", "max_pixels", "shown"), [
    pytest.param(100_000, 100_000, 1_000_000, "10,000,000,000", id="pil-bomb-error"),
    pytest.param(10_000, 10_000, 1_000_000, "100,000,000", id="pil-bomb-warning"),
    pytest.param(2_000, 1_000, 1_000_000, "2,000×1,000", id="our-pixel-limit"),
])
def test_decompression_bombs_are_refused_from_the_header(width: int, height: int, max_pixels: int,
                                                         shown: str) -> None:
    data = _png_declaring(width, height)
    assert len(data) < 120
    filters_before, limit_before = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    with pytest.raises(TooLarge) as info:
        decode_image(data, max_side=64, max_pixels=max_pixels, max_bytes=1000)
    assert info.value.status == 413 and shown in info.value.message and "bomb" in info.value.message
    assert warnings.filters == filters_before and Image.MAX_IMAGE_PIXELS == limit_before


def test_byte_cap_is_checked_first() -> None:
    with pytest.raises(TooLarge, match="2,001 bytes"):
        decode_image(b"\0" * 2001, max_side=64, max_pixels=10, max_bytes=2000)


# ---------------------------------------------------------------- accepted images


def _palette_with_transparency() -> Image.Image:
    im = Image.new("P", (4, 2), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((1, 0), 1)
    im.info["transparency"] = 0
    return im


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


_CMYK_RED = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
_RGBA = Image.fromarray(np.array([[[0, 0, 0, 0], [0, 0, 0, 128], [0, 0, 255, 255]]], dtype=np.uint8))
_LA = Image.fromarray(np.array([[[0, 0], [0, 255], [100, 255]]], dtype=np.uint8))
_GRAY = Image.fromarray(np.array([[0, 51, 255]], dtype=np.uint8))

_ACCEPTED = [
    pytest.param(_encode(_GRAY, "PNG"), "PNG", [[[0.0, 0.2, 1.0]]], 0, id="grayscale-png"),
    pytest.param(_encode(_GRAY.convert("1", dither=Image.Dither.NONE), "PNG"), "PNG", [[[0.0, 0.0, 1.0]]], 0,
                 id="1-bit-png"),
    pytest.param(_encode(Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16)), "PNG"), "PNG",
                 [[[0.0, 32768 / 65535, 1.0]]], 1e-6, id="16-bit-png-scaled-not-clipped"),
    pytest.param(_encode(_palette_with_transparency(), "PNG"), "PNG",
                 [[[1, 0, 1, 1], [1, 1, 1, 1]], [[1, 0, 1, 1], [1, 1, 1, 1]], [[1, 1, 1, 1], [1, 1, 1, 1]]],
                 0, id="palette-png-transparency-on-white"),
    pytest.param(_encode(_RGBA, "PNG"), "PNG",
                 [[[1.0, 127 / 255, 0.0]], [[1.0, 127 / 255, 0.0]], [[1.0, 127 / 255, 1.0]]], 1.5 / 255,
                 id="rgba-png-on-white"),
    pytest.param(_encode(_LA, "PNG"), "PNG",
                 [[[1.0, 0.0, 100 / 255]]], 1e-6, id="la-png-on-white"),
    pytest.param(_encode(Image.new("RGB", (3, 2), (10, 20, 30)), "BMP"), "BMP",
                 np.broadcast_to(np.array([10, 20, 30])[:, None, None] / 255, (3, 2, 3)), 1e-6, id="bmp"),
    pytest.param(_animated_gif(), "GIF", np.broadcast_to(np.array([1.0, 0, 0])[:, None, None], (3, 8, 8)),
                 0, id="animated-gif-first-frame"),
    pytest.param(_encode(_CMYK_RED, "JPEG", quality=95), "JPEG",
                 np.broadcast_to(np.array([1.0, 0, 0])[:, None, None], (3, 16, 16)), 0.03, id="cmyk-jpeg"),
    pytest.param(_encode(Image.new("L", (1, 1), 128), "PNG"), "PNG", [[[128 / 255]]], 1e-6, id="1x1"),
    pytest.param(_encode(Image.new("RGB", (5, 4), (0, 128, 255)), "WEBP", lossless=True), "WEBP",
                 np.broadcast_to(np.array([0, 128, 255])[:, None, None] / 255, (3, 4, 5)), 1e-6,
                 id="webp-lossless", marks=pytest.mark.skipif(not features.check("webp"), reason="no WebP")),
]


@pytest.mark.parametrize(("data", "fmt", "expected", "tol"), _ACCEPTED)
def test_accepted_formats_decode_to_float_chw(data: bytes, fmt: str, expected: object, tol: float) -> None:
    img = decode_image(data, **LIMITS)
    want = np.asarray(expected, dtype=np.float64)
    assert img.format == fmt and img.pixels.dtype == np.float32 and img.pixels.shape == want.shape
    assert img.channels in (1, 3) and not img.resized
    np.testing.assert_allclose(img.pixels, want, atol=tol + 1e-7)
    assert not img.pixels.flags.writeable


@pytest.mark.parametrize(("size", "expected"), [
    pytest.param((1, 10_000), (1, 64), id="1x10000"),
    pytest.param((10_000, 1), (64, 1), id="10000x1"),
    pytest.param((200, 100), (64, 32), id="2-to-1"),
    pytest.param((64, 64), (64, 64), id="exactly-max-side"),
])
def test_resize_fits_longest_side_and_keeps_aspect(size: tuple[int, int], expected: tuple[int, int]) -> None:
    img = decode_image(_encode(Image.new("L", size, 200), "PNG"), **LIMITS)
    assert (img.width, img.height) == expected
    assert (img.original_width, img.original_height) == size and img.resized == (size != expected)
    np.testing.assert_allclose(img.pixels, 200 / 255, atol=1e-6)


def test_large_jpeg_uses_draft_and_still_fits() -> None:
    img = decode_image(_encode(Image.new("RGB", (1000, 600), (0, 200, 0)), "JPEG"), **LIMITS)
    assert (img.width, img.height, img.original_width, img.original_height) == (64, 38, 1000, 600)
    np.testing.assert_allclose(img.pixels[1], 200 / 255, atol=0.02)


def _marked() -> Image.Image:
    """40 wide, 20 tall, white, with a red 8×8 block in the stored top-left corner."""
    im = Image.new("RGB", (40, 20), (255, 255, 255))
    im.paste((255, 0, 0), (0, 0, 8, 8))
    return im


def test_exif_orientation_6_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img = decode_image(_encode(_marked(), "JPEG", exif=exif.tobytes(), quality=95), **LIMITS)
    assert (img.width, img.height) == (20, 40) and (img.original_width, img.original_height) == (20, 40)
    np.testing.assert_allclose(img.pixels[:, 1:7, -7:-1].mean(axis=(1, 2)), [1, 0, 0], atol=0.05)
    np.testing.assert_allclose(img.pixels[:, 1:7, 1:7].mean(axis=(1, 2)), [1, 1, 1], atol=0.05)


@pytest.mark.parametrize("payload", [
    pytest.param(b"Exif\x00\x00" + b"\x13\x37" * 20, id="garbage"),
    pytest.param(b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x01\x12\x00\x03" * 3, id="bad-ifd"),
    pytest.param(b"Exif\x00\x00II\x2a\x00\xff\xff\xff\x7f", id="bad-offset"),
    pytest.param(b"Exif\x00\x00II\x2a\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x05\x00\x00\x00\x40\x00"
                 b"\x00\x00\x00\x00\x00\x00", id="orientation-truncated"),
])
def test_corrupt_exif_falls_back_to_no_rotation(payload: bytes) -> None:
    img = decode_image(_jpeg_with_app1(_marked(), payload), **LIMITS)
    assert (img.width, img.height) == (40, 20)
    np.testing.assert_allclose(img.pixels[:, 1:7, 1:7].mean(axis=(1, 2)), [1, 0, 0], atol=0.05)


def test_exif_transpose_exception_is_survived(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("corrupt EXIF")
    monkeypatch.setattr(ImageOps, "exif_transpose", broken)
    assert decode_image(_encode(_marked(), "JPEG"), **LIMITS).width == 40


@pytest.mark.parametrize(("mode", "raw", "expected"), [
    pytest.param("I;16B", b"\xff\xff\x80\x00", [1.0, 32768 / 65535], id="I;16B"),
    pytest.param("I", struct.pack("<ii", 65535, 16384), [1.0, 16384 / 65535], id="I-32bit"),
    pytest.param("F", struct.pack("<ff", 0.25, 0.75), [0.25, 0.75], id="F-in-range"),
    pytest.param("F", struct.pack("<ff", -2.0, 6.0), [0.0, 1.0], id="F-stretched"),
])
def test_wide_modes_scale_into_unit_range(mode: str, raw: bytes, expected: list[float]) -> None:
    im = Image.frombytes(mode, (2, 1), raw)
    img = images.image_from_pil(im, max_side=8, format="TEST")
    np.testing.assert_allclose(img.pixels[0, 0], expected, atol=1e-6)


# ---------------------------------------------------------------- nothing touches the disk


@pytest.fixture
def no_disk_writes(tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run under an empty cwd and temp dir, with every write-mode open() made to fail."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir(), tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    real_open, real_os_open, writes = builtins.open, os.open, []

    def guarded_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if set(str(mode)) & set("wax+"):
            writes.append(file)
            raise PermissionError(f"test forbids writing {file!r}")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append(path)
            raise PermissionError(f"test forbids writing {path!r}")
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    before = os.listdir(tempfile.gettempdir())
    yield
    assert writes == [] and os.listdir(cwd) == [] and os.listdir(tempfile.gettempdir()) == before == []


@pytest.mark.usefixtures("no_disk_writes")
def test_decode_store_and_encode_write_no_files() -> None:
    store = ImageStore(10_000_000)
    for param in _ACCEPTED:
        if not param.marks:
            store.put(param.values[0], **LIMITS)
    store.put(_encode(Image.new("RGB", (3000, 2000), "blue"), "JPEG"), max_side=256,
              max_pixels=10_000_000, max_bytes=10_000_000)
    with pytest.raises(InvalidRequest):
        store.put(_PNG[:100], **LIMITS)
    encode_feature_maps(np.random.default_rng(0).random((4, 40, 40)), max_side=16, encoding="png")


# ---------------------------------------------------------------- the store


def _tiny(value: int) -> bytes:
    """A distinct 32×32 gray 8-bit PNG: held as uint8, 32·32 = 1024 bytes."""
    return _encode(Image.new("L", (32, 32), value), "PNG")


def test_store_is_content_addressed_and_hits_refresh() -> None:
    import hashlib

    store = ImageStore(10_000)
    a = store.put(_tiny(1), **LIMITS)
    assert a.id == hashlib.sha256(_tiny(1)).hexdigest() and a.nbytes == 1024
    assert store.put(_tiny(1), **LIMITS) is a
    assert store.get(a.id.upper()) is a and len(store) == 1 and store.nbytes == 1024
    assert store.stats() == {"images": 1, "bytes": 1024, "capacity_bytes": 10_000,
                             "hits": 1, "misses": 1, "evictions": 0}
    assert a.as_dict() == {"id": a.id, "width": 32, "height": 32, "channels": 1, "format": "PNG",
                           "original_width": 32, "original_height": 32, "resized": False}


@pytest.mark.parametrize(("touch", "evicted"), [
    pytest.param(None, 0, id="oldest-goes-first"),
    pytest.param("get", 1, id="get-refreshes-recency"),
    pytest.param("put", 1, id="put-hit-refreshes-recency"),
])
def test_store_evicts_least_recently_used(touch: str | None, evicted: int) -> None:
    store = ImageStore(2 * 1024 + 100)
    ids = [store.put(_tiny(0), **LIMITS).id, store.put(_tiny(1), **LIMITS).id]
    if touch == "get":
        store.get(ids[0])
    elif touch == "put":
        store.put(_tiny(0), **LIMITS)
    ids.append(store.put(_tiny(2), **LIMITS).id)
    assert ids[evicted] not in store and len(store) == 2 and store.nbytes == 2048
    with pytest.raises(NotFound, match="upload it again") as info:
        store.get(ids[evicted])
    assert info.value.status == 404 and store.stats()["evictions"] == 1


@pytest.mark.parametrize("bad", [pytest.param("abc", id="short"), pytest.param("g" * 64, id="not-hex"),
                                 pytest.param(None, id="none"), pytest.param("../" * 22, id="path")])
def test_store_get_validates_ids(bad: object) -> None:
    with pytest.raises(InvalidRequest, match="64 hexadecimal"):
        ImageStore(1000).get(bad)  # type: ignore[arg-type]


def test_8_bit_images_are_held_as_bytes_and_read_as_floats() -> None:
    img = decode_image(_encode(Image.new("RGB", (5, 4), (0, 51, 255)), "PNG"), **LIMITS)
    assert img.data.dtype == np.uint8 and img.nbytes == 3 * 4 * 5 and not img.data.flags.writeable
    assert img.pixels.dtype == np.float32 and not img.pixels.flags.writeable
    np.testing.assert_array_equal(img.pixels[:, 0, 0], np.array([0, 51, 255], np.float32) / np.float32(255))
    wide = decode_image(_encode(Image.fromarray(np.full((4, 5), 1000, np.uint16)), "PNG"), **LIMITS)
    assert wide.data.dtype == np.float32 and wide.pixels is wide.data  # 16-bit keeps its precision


def test_resized_copies_keep_the_storage_type() -> None:
    img = decode_image(_encode(_noise("RGB", (60, 40)), "PNG"), **LIMITS)
    small = images.resize_image(img, 30)
    assert (small.width, small.height, small.data.dtype, small.resized) == (30, 20, np.uint8, True)
    assert images.resize_image(img, 64) is img


def test_store_refuses_an_image_bigger_than_its_capacity() -> None:
    store = ImageStore(1000)
    with pytest.raises(TooLarge, match="1,024 bytes") as info:
        store.put(_tiny(3), **LIMITS)
    assert info.value.status == 413 and len(store) == 0 and store.nbytes == 0


def test_store_survives_concurrent_puts_and_gets() -> None:
    store, errors = ImageStore(10 * 1024), []
    blobs = [_tiny(v) for v in range(40)]

    def work(offset: int) -> None:
        try:
            for i in range(40):
                entry = store.put(blobs[(i + offset) % 40], **LIMITS)
                try:
                    store.get(entry.id)
                except NotFound:
                    pass  # evicted by another thread in between: allowed
                assert store.nbytes <= store.capacity_bytes
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 5,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = store.stats()
    assert errors == [] and stats["images"] == 10 and stats["bytes"] == 10 * 1024
    assert stats["hits"] + stats["misses"] == 8 * 40 and stats["misses"] - stats["evictions"] == 10


# ---------------------------------------------------------------- samples


def test_samples_list_and_load_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from convscope.core import samples

    samples._load_cached.cache_clear()
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network used"))
    listed = list_samples(size=128)
    assert [s["id"] for s in listed] == list(SAMPLE_IDS)
    assert {s["kind"] for s in listed} == {"synthetic", "photo"}
    for entry in listed:
        img = load_sample(entry["id"], size=128)
        assert isinstance(img, DecodedImage) and img.pixels.dtype == np.float32
        assert (img.width, img.height, img.channels) == (entry["width"], entry["height"], entry["channels"])
        assert max(img.width, img.height) <= 128 and 0 <= img.pixels.min() < img.pixels.max() <= 1
        assert entry["credit"] and entry["title"] and load_sample(entry["id"], size=128) is img
    assert {s["id"]: s["channels"] for s in listed}["astronaut"] == 3


def test_sample_patterns_have_their_structure() -> None:
    board = load_sample("checkerboard", size=64).pixels[0]
    assert board[0, 0] == 0 and board[0, 8] == 1 and board[8, 8] == 0
    ramp = load_sample("gradient", size=64).pixels[0]
    assert np.all(np.diff(ramp[0]) >= 0) and ramp[0, 0] < 0.02 and ramp[0, -1] > 0.98
    assert (load_sample("text", size=128).pixels < 0.5).mean() > 0.02  # dark strokes exist


@pytest.mark.parametrize(("name", "size", "error"), [
    pytest.param("lena", 128, NotFound, id="unknown-name"),
    pytest.param("camera", 4, InvalidRequest, id="too-small"),
    pytest.param("camera", 10**6, InvalidRequest, id="too-big"),
])
def test_sample_errors(name: str, size: int, error: type) -> None:
    with pytest.raises(error) as info:
        load_sample(name, size=size)
    if error is NotFound:
        assert "checkerboard" in info.value.message and "camera" in info.value.message
