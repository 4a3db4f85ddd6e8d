"""Feature maps for the page: per-channel min/max on the full map, area-downsampled to display size,
quantised to uint8 and sent raw or as a fast PNG (or, for exact checks, as float32) — never as nested
JSON floats.

The reductions run in torch on the tensor's own device, so on a GPU only the display-size uint8 codes
cross to the host. `encode_feature_maps` takes numpy or torch; `decode_quantised` inverts it.
"""
from __future__ import annotations

import functools
import io
import math
import os
import struct
import zlib
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from convscope.core.exceptions import InvalidRequest
from convscope.core.mapstack import EncodedMap, MapStack
from convscope.core.threads import Threads

Encoding = Literal["raw", "png", "f32"]
ENCODINGS: tuple[str, ...] = ("raw", "png", "f32")
ENCODING_TEXT = ("raw: uint8 codes, row-major, 0 = the channel's min and 255 its max; png: the same codes as a "
                 "grayscale PNG; f32: little-endian float32 values (the display-size means, unquantised)")
# zlib releases the GIL, so one request's PNG maps compress in parallel, in threads the app's lifespan
# opens and closes (elsewhere, one after another in the calling thread).
RANGE_BAND_BYTES = 512 * 1024  # a band of rows that stays in a core's cache between its min and its max
PNG_THREADS = Threads("convscope-png", min(4, os.cpu_count() or 1))


def check_encoding(encoding: Any, max_side: Any) -> None:
    if encoding not in ENCODINGS:
        raise InvalidRequest(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}.", ["encoding"])
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1:
        raise InvalidRequest(f"max_side must be a positive integer, not {max_side!r}.", ["max_side"])


def display_factor(height: int, width: int, max_side: int) -> int:
    """The integer block size that brings the longest side within max_side."""
    return max(1, math.ceil(max(height, width) / max_side))


def encode_feature_maps(x: Any, *, max_side: int, encoding: Encoding = "raw") -> list[EncodedMap]:
    """Encode a C×H×W (or H×W) float array or tensor as one EncodedMap per channel.

    One min/max reduction, one area-average by an integer factor (so the page can map a display
    pixel back to full-resolution pixels exactly), one quantisation pass, all vectorised over
    channels. Non-finite values are ignored for min/max and clipped into range.
    """
    return encode_stack(x, max_side=max_side, encoding=encoding).maps()


def encode_stack(x: Any, *, max_side: int, encoding: Encoding = "raw",
                 clamped: tuple[MapStack, float, float] | None = None) -> MapStack:
    """encode_feature_maps, kept as one MapStack (mapstack.py).

    `clamped` = (s, a, b) says that x is clamp(m, a, b) element by element, for the maps m that s encodes (relu
    is clamp(m, 0, inf), relu6 clamp(m, 0, 6)): a clamp keeps the order of values, so where m was all finite
    the channels' min and max are s's clamped, exactly, and the pass over x that would find them is saved."""
    check_encoding(encoding, max_side)
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or 0 in t.shape:
        raise InvalidRequest(f"Feature maps must be a non-empty C×H×W array, got shape {list(t.shape)}.")
    if not t.is_floating_point():
        t = t.float()
    channels, height, width = t.shape
    factor = display_factor(height, width, max_side)
    # A channels-last map (channel innermost in memory) is worked on as H×W×C, so that nothing is transposed
    # until the small uint8 codes are: transposing the full float map would cost more than all the rest.
    hwc = channels > 1 and t.stride(0) == 1 and t.stride(2) == channels
    v = t.permute(1, 2, 0) if hwc else t
    if clamped is not None and clamped[0].finite and len(clamped[0]) == channels:
        source, a, b = clamped
        lo, hi = np.clip(np.array(source.lo), a, b), np.clip(np.array(source.hi), a, b)
        finite = True
    else:
        lo, hi, finite = _channel_range(v, hwc)
    small = _area_downsample(v, factor, hwc)
    out_h, out_w = (small.shape[:2] if hwc else small.shape[1:])
    planes: Any
    if encoding == "f32":
        values = np.ascontiguousarray(_chw(small, hwc).to(torch.float32).cpu().numpy(), dtype="<f4")
        planes = values.reshape(channels, -1).view(np.uint8)
    else:
        codes = _chw(_quantise(small, lo, hi, finite, hwc), hwc).cpu().numpy()
        if encoding == "raw":
            planes = np.ascontiguousarray(codes).reshape(channels, -1)
        elif channels == 1:
            planes = [_png_bytes(codes[0])]
        else:
            planes = PNG_THREADS.map(_png_bytes, codes)
    return MapStack(encoding, out_w, out_h, width, height, factor, lo.tolist(), hi.tolist(), planes,
                    finite)


def decode_quantised(m: EncodedMap) -> np.ndarray:
    """Inverse of the encoding (for tests and clients): float64 H×W at display resolution."""
    if m.encoding == "f32":
        return np.frombuffer(m.data, dtype="<f4").reshape(m.height, m.width).astype(np.float64)
    if m.encoding == "png":
        with Image.open(io.BytesIO(m.data), formats=["PNG"]) as im:
            q = np.asarray(im, dtype=np.uint8)
    else:
        q = np.frombuffer(m.data, dtype=np.uint8).reshape(m.height, m.width)
    return m.min + q.astype(np.float64) * ((m.max - m.min) / 255.0)


def _chw(x: torch.Tensor, hwc: bool) -> torch.Tensor:
    return x.permute(2, 0, 1).contiguous() if hwc else x


def _channel_range(x: torch.Tensor, hwc: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-channel min and max over finite values (float64, on the host), and whether all values were finite.

    NaN and ±inf show up in the plain min/max, so the common all-finite case costs two passes and one small
    copy to the host; a channel with no finite value at all gets min = max = 0. x is C×H×W, or H×W×C when hwc.
    """
    if hwc:  # rows first, over W·C contiguous values, then the W×C that is left: 7× faster than over (0, 1)
        rows = x.reshape(x.shape[0], -1)
        # a large map a band of rows at a time, so that max reads from the cache what min just read (512²×16:
        # 4.0 → 2.4 ms)
        band = max(1, RANGE_BAND_BYTES // max(1, rows.shape[1] * rows.element_size()))
        if band < rows.shape[0] and rows.device.type == "cpu":
            parts = rows.split(band)
            lo_rows = torch.stack([p.amin(dim=0) for p in parts]).amin(dim=0)
            hi_rows = torch.stack([p.amax(dim=0) for p in parts]).amax(dim=0)
        else:
            lo_rows, hi_rows = rows.amin(dim=0), rows.amax(dim=0)
        lo = lo_rows.reshape(x.shape[1:]).amin(dim=0)
        hi = hi_rows.reshape(x.shape[1:]).amax(dim=0)
    else:
        lo, hi = x.amin(dim=(1, 2)), x.amax(dim=(1, 2))
    both = torch.stack((lo, hi)).cpu().numpy().astype(np.float64)
    lo_h, hi_h = both[0], both[1]
    bad = ~(np.isfinite(lo_h) & np.isfinite(hi_h))
    if not bad.any():
        return lo_h, hi_h, True
    for c in np.flatnonzero(bad).tolist():  # rare: slow path per channel
        plane = x[..., c] if hwc else x[c]
        finite = plane[torch.isfinite(plane)]
        lo_h[c], hi_h[c] = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 0.0)
    return lo_h, hi_h, False


def _area_downsample(x: torch.Tensor, factor: int, hwc: bool = False) -> torch.Tensor:
    """Mean over factor×factor blocks (the last row/column of blocks may be smaller); x is C×H×W, or
    H×W×C when hwc. Strided adds (factor passes per axis) beat avg_pool2d ~4× and reshape-means ~9× here."""
    if factor == 1:
        return x
    ay, ax = (0, 1) if hwc else (1, 2)
    height, width = x.shape[ay], x.shape[ax]
    out_h, out_w = -(-height // factor), -(-width // factor)
    work = torch.float64 if x.dtype == torch.float64 else torch.float32

    def block_sums(src: torch.Tensor, axis: int, n: int, n_out: int) -> torch.Tensor:
        # the first two offsets in one pass (they make every block of a factor-2 axis), then the rest in place
        parts = [src.narrow(axis, d, n - d)[(slice(None),) * axis + (slice(None, None, factor),)].to(work)
                 for d in range(min(factor, n))]
        if len(parts) > 1 and parts[1].shape[axis] == n_out:
            acc, rest = torch.add(parts[0], parts[1]), parts[2:]
        else:
            acc, rest = parts[0].clone(), parts[1:]
        for part in rest:
            acc.narrow(axis, 0, part.shape[axis]).add_(part)
        return acc

    out = block_sums(block_sums(x, ay, height, out_h), ax, width, out_w)
    return out.div_(_block_counts(height, width, factor, hwc, x.device, work))


@functools.lru_cache(maxsize=64)
def _block_counts(height: int, width: int, factor: int, hwc: bool, device: torch.device, work: torch.dtype,
                  ) -> torch.Tensor:
    """How many full-resolution pixels each display pixel averages (factor², less at a clipped edge); read only."""
    row_n = torch.clamp(height - torch.arange(-(-height // factor), device=device) * factor, max=factor).to(work)
    col_n = torch.clamp(width - torch.arange(-(-width // factor), device=device) * factor, max=factor).to(work)
    counts = row_n[:, None] * col_n[None, :]
    return counts[:, :, None] if hwc else counts


def _quantise(x: torch.Tensor, lo: np.ndarray, hi: np.ndarray, finite: bool, hwc: bool = False) -> torch.Tensor:
    """uint8 codes round((v - lo) · 255 / (hi - lo)); constant channels become all 0. lo and hi are float64 on the
    host; the scale is worked out there, in float64, and goes to the device at once in x's precision.

    The codes are v · scale + (0.5 - lo · scale), truncated, in one fused multiply-add (three passes over the maps
    instead of five: ResNet-18's maps 20 → 14 ms), where x's precision holds that form within 1/64 of a step of
    (v - lo) · scale + 0.5; a channel whose values sit far from zero for their span (|v| ≫ hi - lo, where the
    product's rounding would cost whole steps) takes the subtraction first."""
    work = torch.float64 if x.dtype == torch.float64 else torch.float32  # float64 maps keep their precision
    span = hi - lo
    scale = np.where(span > 0, 255.0 / np.where(span > 0, span, 1.0), 0.0)
    reach = np.maximum(np.abs(lo), np.abs(hi)) * scale  # the largest |v · scale| in a channel
    fused = bool(np.all((2 * reach + 256) * torch.finfo(work).eps <= _FUSED_STEPS))  # (NaN compares false)
    offset = 0.5 - lo * scale if fused else lo
    offset_t, scale_t = torch.from_numpy(np.stack((offset, scale))).to(device=x.device, dtype=work)
    if hwc:
        offset_t, scale_t = offset_t[None, None, :], scale_t[None, None, :]
    else:
        offset_t, scale_t = offset_t[:, None, None], scale_t[:, None, None]
    if fused:
        buf = torch.addcmul(offset_t, x.to(work), scale_t)
    else:
        buf = x.to(work) - offset_t
        buf.mul_(scale_t).add_(0.5)
    if not (fused and finite):
        # ±inf land on 0 or 255. The fused form of finite values needs no clamp: v lies in [lo, hi], so its code
        # before truncation lies within 1/64 of [0.5, 255.5], and truncating it to uint8 gives 0 … 255 (saves a
        # pass over the maps: ResNet-18's quantisation ~10 % faster)
        buf.clamp_(0.0, 255.0)
    if not finite:
        buf.nan_to_num_(nan=0.0)
    return buf.to(torch.uint8)


_FUSED_STEPS = 1 / 64  # the rounding error, in code steps, that the fused form may add


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
