"""The loop reference for interpolate: nearest, nearest-exact, (bi)linear and bicubic taps, as torch computes them.

Part of the loop reference (tests/reference.py re-exports every name here): no torch, plain Python loops.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import product

import numpy as np

from tests.reference_base import CUBIC_A, IntOrSeq, as_tuple, cells, to_array


# --------------------------------------------------------------------------- interpolation

Taps = list[tuple[int, float]]  # (source index, weight) pairs for one output index


def f32(value: float) -> float:
    """Round to the nearest float32 (torch computes nearest-neighbour scales in float)."""
    return float(np.float32(value))


def nearest_scale_f32(in_size: int, out_size: int, scale_factor: float | None) -> float:
    """compute_scales_value<float>: float32(1 / scale_factor) if given, else float32(in) / float32(out)."""
    if scale_factor is not None and scale_factor > 0:
        return f32(1.0 / scale_factor)
    return f32(f32(in_size) / f32(out_size))


def nearest_scale(in_size: int, out_size: int, scale_factor: float | None) -> float:
    """The same scale in double: 1 / scale_factor if given, else in / out."""
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size


def uses_nearest_idx(out_size: Sequence[int]) -> bool:
    """Which torch CPU kernel serves mode='nearest'/'nearest-exact' for a float NCHW input.

    torch 2.x (aten/src/ATen/native/cpu/UpSampleKernel.cpp): 2-D outputs with
    H_out + W_out <= 128 go through the vectorised kernel built on `nearest_idx` /
    `nearest_exact_idx` (float32 scale, plus out == in and out == 2 in shortcuts for
    'nearest'); 1-D outputs and larger 2-D outputs go through the generic kernel
    (HelperInterpNearest: the scale in double, no shortcuts). The two disagree only
    when a scale_factor is given whose floor(in * s) equals in or 2 in but s != 1, 2
    (e.g. in=2, scale_factor=1.25, where 1-D nearest gives [x0, x0] and 2-D [x0, x1]),
    or in float32-vs-double rounding of dst * scale.
    """
    return len(out_size) == 2 and sum(out_size) <= 128


def nearest_taps(dst: int, in_size: int, out_size: int, scale_factor: float | None, vectorised: bool) -> Taps:
    """mode='nearest' (torch's legacy rule, OpenCV INTER_NEAREST): src = min(floor(dst * scale), in - 1).

    vectorised (`nearest_idx`): src = dst when out == in, dst // 2 when out == 2 in,
    otherwise the product in float32. Generic kernel: the product in double, then
    narrowed to float32 by `floorf`.
    """
    if vectorised:
        if out_size == in_size:
            return [(dst, 1.0)]
        if out_size == 2 * in_size:
            return [(dst // 2, 1.0)]
        product_ = f32(f32(dst) * nearest_scale_f32(in_size, out_size, scale_factor))
    else:
        product_ = f32(dst * nearest_scale(in_size, out_size, scale_factor))
    return [(min(math.floor(product_), in_size - 1), 1.0)]


def nearest_exact_taps(dst: int, in_size: int, out_size: int, scale_factor: float | None, vectorised: bool) -> Taps:
    """mode='nearest-exact' (Pillow / scipy rounding): src = min(floor((dst + 0.5) * scale), in - 1).

    vectorised: scale in float32; generic: scale in double, (dst + 0.5) * scale - 0.5
    clamped at 0, then + 0.5; either way `floorf` narrows to float32 before flooring.
    """
    if vectorised:
        real = (dst + 0.5) * nearest_scale_f32(in_size, out_size, scale_factor)
    else:
        real = max(nearest_scale(in_size, out_size, scale_factor) * (dst + 0.5) - 0.5, 0.0) + 0.5
    return [(min(math.floor(f32(real)), in_size - 1), 1.0)]


def area_scale(in_size: int, out_size: int, align_corners: bool, scale_factor: float | None) -> float:
    """area_pixel_compute_scale: (in-1)/(out-1) (0 when out == 1) with align_corners,
    else 1/scale_factor when a scale factor was given, else in/out."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size


def source_coordinate(dst: int, scale: float, align_corners: bool, cubic: bool) -> float:
    """area_pixel_compute_source_index: align_corners: dst * scale;
    else (dst + 0.5) * scale - 0.5, clamped at 0 except for cubic."""
    if align_corners:
        return scale * dst
    src = scale * (dst + 0.5) - 0.5
    return src if cubic or src >= 0 else 0.0


def linear_taps(dst: int, in_size: int, out_size: int, align_corners: bool, scale_factor: float | None) -> Taps:
    """mode='linear'/'bilinear': x0 = floor(src), lambda = src - x0, x1 = min(x0 + 1, in - 1);
    weights (1 - lambda, lambda). torch copies when out == in."""
    if out_size == in_size:
        return [(dst, 1.0)]
    src = source_coordinate(dst, area_scale(in_size, out_size, align_corners, scale_factor), align_corners, cubic=False)
    x0 = min(math.floor(src), in_size - 1)
    lam = min(max(src - x0, 0.0), 1.0)
    x1 = x0 + 1 if x0 < in_size - 1 else x0
    return [(x0, 1.0 - lam), (x1, lam)]


def cubic_weights(t: float, a: float = CUBIC_A) -> list[float]:
    """Keys' cubic convolution weights for taps at distances 1 + t, t, 1 - t, 2 - t.

    W(x) = (a+2)|x|^3 - (a+3)|x|^2 + 1        for |x| <= 1
    W(x) = a|x|^3 - 5a|x|^2 + 8a|x| - 4a       for 1 < |x| < 2
    """
    def near(z: float) -> float:
        return ((a + 2) * z - (a + 3)) * z * z + 1

    def far(z: float) -> float:
        return ((a * z - 5 * a) * z + 8 * a) * z - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def cubic_taps(dst: int, in_size: int, out_size: int, align_corners: bool, scale_factor: float | None) -> Taps:
    """mode='bicubic': x = floor(src) (src NOT clamped at 0), t = src - x, taps x-1..x+2 clamped to [0, in-1]."""
    src = source_coordinate(dst, area_scale(in_size, out_size, align_corners, scale_factor), align_corners, cubic=True)
    x = min(math.floor(src), in_size - 1)
    t = min(max(src - x, 0.0), 1.0)
    return [(min(max(x - 1 + j, 0), in_size - 1), w) for j, w in enumerate(cubic_weights(t))]


def interpolate_output_size(
    in_size: Sequence[int], size: IntOrSeq | None, scale_factor: float | Sequence[float] | None
) -> list[int]:
    """`size` as given, else floor(in * scale_factor) per axis."""
    nd = len(in_size)
    if size is not None:
        return list(as_tuple(size, nd, "size"))
    assert scale_factor is not None
    factors = [float(scale_factor)] * nd if isinstance(scale_factor, (int, float)) else [float(f) for f in scale_factor]
    return [math.floor(n * f) for n, f in zip(in_size, factors, strict=True)]


def interpolate(
    x: np.ndarray,
    size: IntOrSeq | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> np.ndarray:
    """F.interpolate for nearest, nearest-exact, linear, bilinear, bicubic (separable).

    out[n, c, y] = sum over tap combinations of prod_a weight_a * x[n, c, src_a], the taps of
    each axis coming from the `*_taps` function of the mode. A given scale_factor is the
    scale the source-index formula uses (recompute_scale_factor=None, torch's default).
    """
    x = to_array(x)
    nd = x.ndim - 2
    batch, chans, *in_size = x.shape
    out_size = interpolate_output_size(in_size, size, scale_factor)
    if scale_factor is None:
        factors: list[float | None] = [None] * nd
    elif isinstance(scale_factor, (int, float)):
        factors = [float(scale_factor)] * nd
    else:
        factors = [float(f) for f in scale_factor]
    corners = bool(align_corners)
    vectorised = uses_nearest_idx(out_size)

    def axis_taps(a: int, dst: int) -> Taps:
        if mode == "nearest":
            return nearest_taps(dst, in_size[a], out_size[a], factors[a], vectorised)
        if mode == "nearest-exact":
            return nearest_exact_taps(dst, in_size[a], out_size[a], factors[a], vectorised)
        if mode in ("linear", "bilinear"):
            return linear_taps(dst, in_size[a], out_size[a], corners, factors[a])
        if mode == "bicubic":
            return cubic_taps(dst, in_size[a], out_size[a], corners, factors[a])
        raise ValueError(f"unknown mode {mode!r}")

    taps = [[axis_taps(a, dst) for dst in range(out_size[a])] for a in range(nd)]
    out = np.zeros((batch, chans, *out_size))
    for n, c in cells((batch, chans)):
        for pos in cells(out_size):
            total = 0.0
            for combo in product(*(taps[a][pos[a]] for a in range(nd))):
                weight = 1.0
                for _, w in combo:
                    weight *= w
                total += weight * x[(n, c, *(src for src, _ in combo))]
            out[(n, c, *pos)] = total
    return out
