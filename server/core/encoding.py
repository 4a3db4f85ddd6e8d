"""Feature maps for the page: per-channel min/max on the full map, area-downsampled to display size,
quantised to uint8, sent raw (base64) or as a fast PNG — not as nested JSON floats."""
from __future__ import annotations

import base64
import io
import math
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PIL import Image

from server.core.exceptions import InvalidRequest

Encoding = Literal["raw", "png"]
ENCODINGS: tuple[str, ...] = ("raw", "png")
# zlib releases the GIL, so one request's PNG maps compress in parallel; threads start lazily.
_PNG_POOL = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="convscope-png")


# ---------------------------------------------------------------- feature-map encoding


@dataclass(frozen=True, eq=False)
class EncodedMap:
    """One channel at display resolution, uint8-quantised: 0 = min, 255 = max.

    Display pixel (i, j) is the mean of full-resolution rows [i·factor, (i+1)·factor) and
    columns [j·factor, (j+1)·factor), clipped at the edges. min/max are from the full map.
    `data` is `height` rows of `width` bytes ("raw") or a grayscale PNG ("png").
    """

    channel: int
    encoding: str
    width: int
    height: int
    full_width: int
    full_height: int
    factor: int
    min: float
    max: float
    data: bytes = field(repr=False)

    @property
    def scale(self) -> float:
        """Display pixels per full-resolution pixel (1 / factor)."""
        return 1.0 / self.factor

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: `data` as base64 text."""
        return {"channel": self.channel, "encoding": self.encoding, "width": self.width,
                "height": self.height, "full_width": self.full_width,
                "full_height": self.full_height, "factor": self.factor, "scale": self.scale,
                "min": self.min, "max": self.max,
                "data": base64.b64encode(self.data).decode("ascii")}


def encode_feature_maps(x: np.ndarray, *, max_side: int, encoding: Encoding = "raw") -> list[EncodedMap]:
    """Encode a C×H×W (or H×W) float array as one EncodedMap per channel.

    Vectorised over channels: one min/max pass, one area-average by an integer factor
    (so the page can map a display pixel back to full-resolution pixels exactly), one
    quantisation pass. Non-finite values are ignored for min/max and clipped into range.
    """
    if encoding not in ENCODINGS:
        raise InvalidRequest(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}.", ["encoding"])
    if not isinstance(max_side, int) or max_side < 1:
        raise InvalidRequest(f"max_side must be a positive integer, not {max_side!r}.", ["max_side"])
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or 0 in x.shape:
        raise InvalidRequest(f"Feature maps must be a non-empty C×H×W array, got shape {list(x.shape)}.")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    channels, height, width = x.shape
    lo, hi, finite = _channel_range(x)
    factor = max(1, math.ceil(max(height, width) / max_side))
    with np.errstate(invalid="ignore", over="ignore"):  # inf/NaN maps are clipped, not warned
        q = _quantise(_area_downsample(x, factor), lo, hi, finite)
    if encoding == "raw":
        blobs = [plane.tobytes() for plane in q]
    elif channels == 1:
        blobs = [_png_bytes(q[0])]
    else:
        blobs = list(_PNG_POOL.map(_png_bytes, q))
    out_h, out_w = q.shape[1:]
    return [EncodedMap(c, encoding, out_w, out_h, width, height, factor, float(lo[c]), float(hi[c]), blob)
            for c, blob in enumerate(blobs)]


def decode_quantised(m: EncodedMap) -> np.ndarray:
    """Inverse of the encoding (for tests and clients): float64 H×W at display resolution."""
    if m.encoding == "png":
        with Image.open(io.BytesIO(m.data), formats=["PNG"]) as im:
            q = np.asarray(im, dtype=np.uint8)
    else:
        q = np.frombuffer(m.data, dtype=np.uint8).reshape(m.height, m.width)
    return m.min + q.astype(np.float64) * ((m.max - m.min) / 255.0)


def _channel_range(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-channel min and max (float64) over finite values, and whether all values were finite.

    NaN and ±inf show up in the plain min/max, so the common all-finite case costs two passes;
    a channel with no finite value at all gets min = max = 0.
    """
    flat = x.reshape(x.shape[0], -1)
    lo = flat.min(axis=1).astype(np.float64)
    hi = flat.max(axis=1).astype(np.float64)
    bad = np.flatnonzero(~(np.isfinite(lo) & np.isfinite(hi)))
    for c in bad:  # rare: slow path per channel
        finite = flat[c][np.isfinite(flat[c])]
        lo[c], hi[c] = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    return lo, hi, bad.size == 0


def _area_downsample(x: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor×factor blocks (the last row/column of blocks may be smaller).

    Strided adds (factor passes per axis) beat np.add.reduceat and reshape-means ~5× here.
    """
    if factor == 1:
        return x
    channels, height, width = x.shape
    out_h, out_w = -(-height // factor), -(-width // factor)
    work = np.float64 if x.dtype == np.float64 else np.float32
    rows = np.zeros((channels, out_h, width), work)
    for dy in range(factor):
        part = x[:, dy::factor, :]
        rows[:, : part.shape[1]] += part
    out = np.zeros((channels, out_h, out_w), work)
    for dx in range(factor):
        part = rows[:, :, dx::factor]
        out[:, :, : part.shape[2]] += part
    row_n = np.minimum(factor, height - np.arange(out_h) * factor).astype(work)
    col_n = np.minimum(factor, width - np.arange(out_w) * factor).astype(work)
    out /= row_n[:, None] * col_n[None, :]
    return out


def _quantise(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, finite: bool) -> np.ndarray:
    """uint8 codes round((v - lo) · 255 / (hi - lo)); constant channels become all 0."""
    work = np.float64 if x.dtype == np.float64 else np.float32  # float64 maps keep their precision
    span = hi - lo
    scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0)
    buf = np.subtract(x, lo.astype(work)[:, None, None], dtype=work)
    buf *= scale.astype(work)[:, None, None]
    buf += work(0.5)
    np.clip(buf, 0.0, 255.0, out=buf)  # ±inf land on 0 or 255
    if not finite:
        np.nan_to_num(buf, copy=False, nan=0.0)
    return buf.astype(np.uint8)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bytes(plane: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG written directly: Sub filter on every row, zlib level 1.

    Twice as fast as PIL's encoder at compress_level=1, for the same size.
    """
    height, width = plane.shape
    rows = np.empty((height, width + 1), np.uint8)
    rows[:, 0] = 1  # filter type Sub: each byte minus its left neighbour, modulo 256
    rows[:, 1] = plane[:, 0]
    np.subtract(plane[:, 1:], plane[:, :-1], out=rows[:, 2:])
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))
