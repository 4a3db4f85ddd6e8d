"""Uploads in: decoding and the in-memory image store (maps out: encoding.py).

Uploads are untrusted bytes, so every size is checked before pixels are decoded, the
decoder is limited to an allowlist of formats, and nothing is ever written to disk.
"""
from __future__ import annotations

import hashlib
import io
import math
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from convscope.core.exceptions import ConvscopeError, InvalidRequest, NotFound, TooLarge, Unsupported

ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
ACCEPTED_TEXT = "PNG, JPEG, WebP, GIF (first frame) or BMP"

# warnings.catch_warnings mutates process-global state (before Python 3.14), so two
# decodes in different threads could restore each other's filters; serialise them.
_WARNINGS_LOCK = threading.Lock()
_ID_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An image as C×H×W (C = 1 for grayscale, 3 for colour), read-only.

    `data` is what is held: uint8 for 8-bit sources (a quarter of the memory of floats, so the
    store keeps four times as many uploads), float32 in [0, 1] for 16-bit and float sources.
    `pixels` is always float32 in [0, 1] (uint8 / 255), read-only; copy it before writing.
    ``original_width``/``original_height`` are the upright size (after EXIF rotation),
    before any resize.
    """

    data: np.ndarray
    format: str
    original_width: int
    original_height: int
    resized: bool

    @property
    def pixels(self) -> np.ndarray:
        if self.data.dtype != np.uint8:
            return self.data
        arr = self.data.astype(np.float32)
        arr /= np.float32(255.0)  # division, not ×(1/255): 255 maps to exactly 1.0
        arr.flags.writeable = False
        return arr

    @property
    def channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def height(self) -> int:
        return int(self.data.shape[1])

    @property
    def width(self) -> int:
        return int(self.data.shape[2])

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


# ---------------------------------------------------------------- decoding


def decode_image(data: bytes, *, max_side: int, max_pixels: int, max_bytes: int) -> DecodedImage:
    """Decode an upload into a DecodedImage, refusing anything unsafe or unsupported.

    Order matters: byte cap, then the format allowlist, then the pixel count declared in
    the header (a tiny file can declare a gigapixel image), and only then the pixels.
    Raises TooLarge (413), Unsupported (415) or InvalidRequest (422), each with a sentence.
    """
    for name, value in (("max_side", max_side), ("max_pixels", max_pixels), ("max_bytes", max_bytes)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidRequest("The upload must be the raw bytes of an image file.", ["file"])
    data = bytes(data)
    _check_bytes(len(data), max_bytes)
    if not data:
        raise Unsupported(f"The uploaded file is empty (0 bytes); upload a {ACCEPTED_TEXT} image.", ["file"])
    sniffed = _sniff(data)
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": handled, not logged
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            declared = f"{int(found.group(1)):,} pixels" if found else "more pixels than PIL will decode"
            raise TooLarge(_bomb_sentence(declared, max_pixels), ["file"]) from None
        except Exception:
            if sniffed is not None:
                raise _corrupt(sniffed, "its header cannot be read") from None
            raise Unsupported(
                f"The file is {_describe_unknown(data)}, which is not an accepted format; "
                f"upload a {ACCEPTED_TEXT} image.", ["file"]) from None
        with im:
            fmt = "JPEG" if im.format == "MPO" else str(im.format)  # MPO: a phone's multi-picture JPEG
            width, height = im.size
            if width < 1 or height < 1:
                raise _corrupt(fmt, f"it declares a {width}×{height} image")
            if width * height > max_pixels:
                raise TooLarge(_bomb_sentence(f"{width:,}×{height:,} = {width * height:,} pixels", max_pixels),
                               ["file"])
            try:
                return _decode_pixels(im, fmt, max_side)
            except ConvscopeError:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise TooLarge(_bomb_sentence(f"{width:,}×{height:,} = {width * height:,} pixels", max_pixels),
                               ["file"]) from None
            except MemoryError:
                raise TooLarge("The image is too large to decode in memory; upload a smaller one.",
                               ["file"]) from None
            except Exception as exc:  # PIL reports damage as OSError, SyntaxError, ValueError, ...
                raise _corrupt(fmt, _short(exc)) from None


def image_from_pil(im: Image.Image, *, max_side: int, format: str) -> DecodedImage:
    """Turn an already-loaded PIL image (any mode) into a DecodedImage; used for samples."""
    width, height = im.size
    flat = _normalise_mode(im)
    pixels, resized = _resize_to_array(flat, max_side)
    return DecodedImage(pixels, format, width, height, resized)


def _decode_pixels(im: Image.Image, fmt: str, max_side: int) -> DecodedImage:
    """Decode frame 0, upright it, flatten alpha/bit depth, and fit it within max_side."""
    width, height = im.size
    if fmt == "JPEG" and max(width, height) > max_side and hasattr(im, "draft"):
        # Let libjpeg skip work: decode at 1/2, 1/4 or 1/8 scale, still >= the target size.
        s = max_side / max(width, height)
        im.draft(None, (max(1, math.ceil(width * s)), max(1, math.ceil(height * s))))
    im.load()
    before = im.size
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except Exception:  # corrupt EXIF: show the image as stored rather than refuse it
        pass
    if im.size != before and im.size == (before[1], before[0]):
        width, height = height, width
    flat = _normalise_mode(im)
    pixels, resized = _resize_to_array(flat, max_side)
    return DecodedImage(pixels, fmt, width, height, resized)


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Reduce every PIL mode to 'L', 'RGB' or 'F' (gray float already in [0, 1]).

    Alpha is composited on white (what a browser shows); 16-bit data is scaled by 65535,
    because PIL's own conversion to 'L' clips at 255 instead of scaling.
    """
    mode = im.mode
    if mode in ("1", "L"):
        return im.convert("L")
    if mode == "P":
        has_alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
        return _normalise_mode(im.convert("RGBA" if has_alpha else "RGB"))
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        base = "L" if mode in ("LA", "La") else "RGB"
        rgba = im.convert("LA" if base == "L" else "RGBA")
        canvas = Image.new(base, rgba.size, 255 if base == "L" else (255, 255, 255))
        canvas.paste(rgba.convert(base), mask=rgba.getchannel("A"))
        return canvas
    if mode == "I" or mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.float32) / np.float32(65535.0)
        return Image.fromarray(np.clip(arr, 0.0, 1.0, out=arr))
    if mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:  # unknown range: stretch it, rather than clip the detail away
            arr = (arr - lo) / np.float32(hi - lo) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32))
    if mode == "RGB":
        return im
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, I;16 variants of colour ...


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled so the longest side is at most max_side, aspect kept, each side >= 1."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    s = max_side / longest
    new_w = max_side if width == longest else min(max_side, max(1, round(width * s)))
    new_h = max_side if height == longest else min(max_side, max(1, round(height * s)))
    return new_w, new_h


def _resize_to_array(im: Image.Image, max_side: int) -> tuple[np.ndarray, bool]:
    """Resize an 'L'/'RGB'/'F' image to fit; a read-only C×H×W array, uint8 ('L', 'RGB') or float32 ('F')."""
    target = fit_size(im.width, im.height, max_side)
    resized = target != im.size
    if resized:
        # LANCZOS is area-aware when shrinking; reducing_gap first box-reduces for speed.
        im = im.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if im.mode == "F":
        arr = np.ascontiguousarray(np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)[None])
    else:
        arr = np.asarray(im, dtype=np.uint8)
        arr = np.ascontiguousarray(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    arr.flags.writeable = False
    return arr, resized


def resize_image(image: DecodedImage, max_side: int) -> DecodedImage:
    """The image fitted within max_side (LANCZOS, as uploads are), or the image itself when it fits."""
    width, height = fit_size(image.width, image.height, max_side)
    if (width, height) == (image.width, image.height):
        return image
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(plane)).resize(
        (width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)) for plane in image.data]
    arr = np.stack(planes)  # uint8 planes resize as 'L' (PIL clips); float ones as 'F', clipped here
    arr = np.ascontiguousarray(arr if arr.dtype == np.uint8 else np.clip(arr, 0.0, 1.0).astype(np.float32))
    arr.flags.writeable = False
    return DecodedImage(arr, image.format, image.original_width, image.original_height, True)


def _check_bytes(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise TooLarge(f"The file is {size:,} bytes, more than the limit of {max_bytes:,} bytes; "
                       "upload a smaller or more compressed image.", ["file"])


def _sniff(data: bytes) -> str | None:
    """Name the allowed format whose signature opens `data`, else None (to tell 415 from 422)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:2] == b"BM" and len(data) >= 18 and data[14] in (12, 40, 52, 56, 64, 108, 124):
        return "BMP"
    return None


def _describe_unknown(data: bytes) -> str:
    """A few words on what a refused file seems to be, so the sentence can teach."""
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "an SVG drawing (vector graphics are not decoded; export it as PNG)"
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return "an HTML page"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "a TIFF image"
    if data.startswith(b"%PDF"):
        return "a PDF document"
    if data[4:8] == b"ftyp":
        return "an HEIC/AVIF or video file"
    try:
        data[:4096].decode("utf-8")
        return "plain text"
    except UnicodeDecodeError:
        return "an unrecognised binary file"


def _corrupt(fmt: str, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"The file looks like a {fmt} image but could not be decoded ({why}); it is corrupt or "
        f"truncated — upload the complete file as {ACCEPTED_TEXT}.", ["file"])


def _bomb_sentence(declared: str, max_pixels: int) -> str:
    return (f"The image declares {declared}, over the limit of {max_pixels:,} pixels; the size is "
            "checked before decoding because a tiny file can declare a huge image (a decompression "
            "bomb). Resize it and upload again.")


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------- the store


@dataclass(frozen=True, eq=False)
class StoredImage:
    """An uploaded image held in memory; `id` is the sha256 hex of the uploaded bytes."""

    id: str
    image: DecodedImage

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def channels(self) -> int:
        return self.image.channels

    @property
    def nbytes(self) -> int:
        return self.image.nbytes

    def as_dict(self) -> dict[str, Any]:
        """The fields of the upload response (API.md, Images), plus what the page may show."""
        img = self.image
        return {"id": self.id, "width": img.width, "height": img.height, "channels": img.channels,
                "format": img.format, "original_width": img.original_width,
                "original_height": img.original_height, "resized": img.resized}


class ImageStore:
    """Content-addressed, byte-capped LRU of decoded uploads; safe to share between threads.

    Only the decoded arrays count towards the cap (the upload bytes are not kept). Decoding
    runs outside the lock, so a slow upload never blocks readers; the limits given with the
    first upload of some bytes decide how they are decoded, later puts are cache hits.
    """

    def __init__(self, capacity_bytes: int) -> None:
        if not isinstance(capacity_bytes, int) or capacity_bytes < 1:
            raise ValueError(f"capacity_bytes must be a positive int, got {capacity_bytes!r}")
        self._capacity = capacity_bytes
        self._entries: OrderedDict[str, StoredImage] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = 0

    @property
    def capacity_bytes(self) -> int:
        return self._capacity

    @property
    def nbytes(self) -> int:
        """Total bytes of the decoded arrays held now (always <= capacity_bytes)."""
        with self._lock:
            return self._nbytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, image_id: object) -> bool:
        with self._lock:
            return image_id in self._entries

    def put(self, data: bytes, *, max_side: int, max_pixels: int, max_bytes: int) -> StoredImage:
        """Decode and keep `data` (or refresh it if already held); returns the stored entry."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidRequest("The upload must be the raw bytes of an image file.", ["file"])
        _check_bytes(len(data), max_bytes)  # before hashing: refuse big bodies cheaply
        image_id = hashlib.sha256(data).hexdigest()
        with self._lock:
            hit = self._touch(image_id)
            if hit is not None:
                self._hits += 1
                return hit
        image = decode_image(data, max_side=max_side, max_pixels=max_pixels, max_bytes=max_bytes)
        if image.nbytes > self._capacity:
            raise TooLarge(
                f"The decoded image needs {image.nbytes:,} bytes, more than the whole image store "
                f"holds ({self._capacity:,} bytes); upload a smaller image.", ["file"])
        entry = StoredImage(image_id, image)
        with self._lock:
            hit = self._touch(image_id)  # another thread may have stored it meanwhile
            if hit is not None:
                self._hits += 1
                return hit
            self._misses += 1
            self._entries[image_id] = entry
            self._nbytes += entry.nbytes
            self._evict()
        return entry

    def get(self, image_id: str) -> StoredImage:
        """The stored image; NotFound when it was evicted or never uploaded here."""
        if not isinstance(image_id, str) or not _ID_RE.match(image_id.lower()):
            raise InvalidRequest(
                f"Image id {str(image_id)[:80]!r} is not an image id: ids are the 64 hexadecimal "
                "characters of the upload's sha256.", ["id"])
        key = image_id.lower()
        with self._lock:
            entry = self._touch(key)
        if entry is None:
            raise NotFound(
                f"Image {key[:12]}… is not in memory (images are kept for a while only, or it "
                "was stored by another server); upload it again.", ["id"])
        return entry

    def get_sized(self, image_id: str, max_side: int) -> DecodedImage:
        """The stored image fitted within max_side; the resized copy is kept in the same LRU (and counted)."""
        entry = self.get(image_id)
        if max(entry.width, entry.height) <= max_side:
            return entry.image
        key = f"{entry.id}@{max_side}"
        with self._lock:
            hit = self._touch(key)
        if hit is not None:
            return hit.image
        variant = StoredImage(key, resize_image(entry.image, max_side))
        with self._lock:
            if self._touch(key) is None:
                self._entries[key] = variant
                self._nbytes += variant.nbytes
                self._evict()
        return variant.image

    def _evict(self) -> None:
        """Drop least recently used entries until the bytes fit; caller holds the lock."""
        while self._nbytes > self._capacity:
            _, old = self._entries.popitem(last=False)
            self._nbytes -= old.nbytes
            self._evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._nbytes = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"images": len(self._entries), "bytes": self._nbytes,
                    "capacity_bytes": self._capacity, "hits": self._hits,
                    "misses": self._misses, "evictions": self._evictions}

    def _touch(self, image_id: str) -> StoredImage | None:
        """Mark as most recently used; caller holds the lock."""
        entry = self._entries.get(image_id)
        if entry is not None:
            self._entries.move_to_end(image_id)
        return entry
