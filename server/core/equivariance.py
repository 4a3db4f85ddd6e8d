"""Translation equivariance, measured: conv commutes with shifts away from the borders; stride keeps it only
for shifts that are multiples of the stride; max pooling is partly invariant; rotation and scaling are not.

shift(x, dy, dx) moves the image by (dy, dx) with zeros coming in (no wrap-around). For a k×k conv with
zero padding p, conv(shift(x)) = shift(conv(x)) exactly on the interior: every output cell whose window
(in both images) reads no cell that the shift brought in or pushed out and no padding. The
border band, k//2 + |shift| wide, is where padding and the shift's incoming zeros break it.

Every comparison comes with its difference map (absolute values, on the output grid): the conv and the
strided conv for each shift on the path from (0, 0) to (dy, dx); max pooling 2×2 against the same image shifted
1 pixel right (the invariance: many pooled cells do not change at all); rotating by 90° and scaling by 0.5
(conv then transform against transform then conv: the Sobel kernel is neither rotation- nor scale-invariant).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .exceptions import InvalidRequest
from .samples import SAMPLE_IDS, load_sample

KERNEL = torch.tensor([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]], dtype=torch.float64)  # Sobel


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x moved down by dy and right by dx (negative: up/left), zeros filling what comes in."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def interior(h: int, w: int, k: int, dy: int, dx: int, stride: int = 1) -> tuple[slice, slice]:
    """Output rows/cols (stride 1, 'same' padding) where conv(shift(x)) = shift(conv(x)) must hold."""
    m = k // 2
    return slice(m + abs(dy), h - m - abs(dy)), slice(m + abs(dx), w - m - abs(dx))


def conv_shift_error(x: torch.Tensor, weight: torch.Tensor, dy: int, dx: int) -> dict[str, Any]:
    k = weight.shape[-1]
    a = F.conv2d(shift(x, dy, dx), weight, padding=k // 2)
    b = shift(F.conv2d(x, weight, padding=k // 2), dy, dx)
    diff = (a - b).abs()[0, 0]
    ys, xs = interior(*x.shape[-2:], k, dy, dx)
    inner = diff[ys, xs]
    return {"interior_max_error": float(inner.max()) if inner.numel() else 0.0,
            "border_max_error": float(diff.max()), "difference": diff}


def strided_shift_error(x: torch.Tensor, weight: torch.Tensor, dy: int, dx: int, stride: int) -> dict[str, Any]:
    """conv_s(shift(x, dy, dx)) against conv_s(x) shifted by (dy/s, dx/s) rounded toward zero, in output cells.

    A shift that is a multiple of s moves every window onto another window: exact in the interior. Any other
    shift lands between the stride's samples, so no shift of the output matches (the map is resampled).
    """
    k = weight.shape[-1]
    a = F.conv2d(shift(x, dy, dx), weight, padding=k // 2, stride=stride)
    b = F.conv2d(x, weight, padding=k // 2, stride=stride)
    q = (int(dy / stride), int(dx / stride))
    diff = (a - shift(b, *q)).abs()[0, 0]
    m = k // 2 + 1 + max(abs(q[0]), abs(q[1]))
    inner = diff[m:diff.shape[0] - m, m:diff.shape[1] - m]
    return {"shift": [dy, dx], "multiple_of_stride": dy % stride == 0 and dx % stride == 0, "output_shift": list(q),
            "interior_max_error": float(inner.max()) if inner.numel() else None,  # None: no cell is far enough in
            "difference": diff}


def rotation_difference(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """|conv(rot90(x)) − rot90(conv(x))|: zero only for a kernel that rot90 leaves unchanged."""
    k = weight.shape[-1]
    rot = lambda t: torch.rot90(t, 1, (-2, -1))  # noqa: E731
    return (F.conv2d(rot(x), weight, padding=k // 2) - rot(F.conv2d(x, weight, padding=k // 2))).abs()[0, 0]


def scale_difference(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """|conv(half(x)) − half(conv(x))| with bilinear halving: a k×k kernel reads k cells of the half-size image,
    2k of the original's, so the orders differ (only a 1×1 kernel, which reads no neighbour, commutes)."""
    k = weight.shape[-1]
    half = lambda t: F.interpolate(t, scale_factor=0.5, mode="bilinear", align_corners=False)  # noqa: E731
    return (F.conv2d(half(x), weight, padding=k // 2) - half(F.conv2d(x, weight, padding=k // 2))).abs()[0, 0]


def shift_path(dy: int, dx: int) -> list[tuple[int, int]]:
    """The shifts from (0, 0) to (dy, dx), one pixel at a time along the longer axis."""
    n = max(abs(dy), abs(dx))
    return [(0, 0)] + [(round(t * dy / n), round(t * dx / n)) for t in range(1, n + 1)]


def _maps(result: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in result.items()}


def square(pixels: np.ndarray, size: int) -> np.ndarray:
    """An uploaded C×H×W image as the size×size input: the centred square crop, resized with antialiasing."""
    c, h, w = pixels.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = torch.as_tensor(np.array(pixels[:, top:top + side, left:left + side], dtype=np.float32))[None]
    if side != size:
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=side > size, align_corners=False)
    return crop[0].numpy()


def measure(sample: str = "camera", size: int = 64, dy: int = 3, dx: int = 5, stride: int = 2,
            pixels: np.ndarray | None = None) -> dict[str, Any]:
    """The measures on a built-in sample, or on `pixels` (an uploaded image, C×H×W in [0, 1]) when given."""
    if pixels is None and sample not in SAMPLE_IDS:
        raise InvalidRequest(f"There is no sample {sample!r}; the samples are: {', '.join(SAMPLE_IDS)}.", ["sample"])
    if not 16 <= size <= 256:
        raise InvalidRequest(f"size must be from 16 to 256, got {size}.", ["size"])
    if not (abs(dy) <= size // 4 and abs(dx) <= size // 4):
        raise InvalidRequest(f"|dy| and |dx| must be at most size/4 = {size // 4}, got ({dy}, {dx}).", ["dy"])
    if not 1 <= stride <= 4:
        raise InvalidRequest(f"stride must be from 1 to 4, got {stride}.", ["stride"])
    img = load_sample(sample, size=size).pixels if pixels is None else square(pixels, size)
    x = torch.as_tensor(np.asarray(img, dtype=np.float64)).mean(0)[None, None]
    w = KERNEL[None, None]
    conv = conv_shift_error(x, w, dy, dx)
    strided = [_maps(strided_shift_error(x, w, s_dy, s_dx, stride))
               for s_dy, s_dx in ((stride, 0), (1, 0), (stride, stride), (1, 1))]
    frames = [{"shift": [sy, sx], "conv": _maps(conv_shift_error(x, w, sy, sx)),
               "strided": _maps(strided_shift_error(x, w, sy, sx, stride))} for sy, sx in shift_path(dy, dx)]
    pooled = F.max_pool2d(x, 2)
    pool_diff = (pooled - F.max_pool2d(shift(x, 0, 1), 2)).abs()[0, 0]
    input_diff = (x - shift(x, 0, 1)).abs()[0, 0]
    change = float(pool_diff[1:-1, 1:-1].mean() / pooled.abs().mean())
    raw_change = float(input_diff[2:-2, 2:-2].mean() / x.abs().mean())
    unchanged = float((pool_diff[1:-1, 1:-1] == 0).double().mean())
    rot_diff, scale_diff = rotation_difference(x, w), scale_difference(x, w)
    inner = lambda d: float(d[1:-1, 1:-1].max())  # noqa: E731
    return {"sample": sample, "size": size, "shift": [dy, dx], "kernel": KERNEL.tolist(), "image": x[0, 0].tolist(),
            "conv": {"interior_max_error": conv["interior_max_error"], "border_max_error": conv["border_max_error"],
                     "difference": conv["difference"].tolist()},
            "stride": stride, "strided": strided, "frames": frames,
            "max_pool": {"relative_change_1px": change, "input_relative_change_1px": raw_change,
                         "unchanged_fraction_1px": unchanged, "difference": pool_diff.tolist(),
                         "input_difference": input_diff.tolist()},
            "rotation_90": {"interior_max_error": inner(rot_diff), "difference": rot_diff.tolist()},
            "scale_0_5": {"interior_max_error": inner(scale_diff), "difference": scale_diff.tolist()}}
