"""The reference's ground: index helpers, the size arithmetic and padding's sources, written from the formulas.

Part of the loop reference (tests/reference.py re-exports every name here): no torch, plain Python loops.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import product

import numpy as np

IntOrSeq = int | Sequence[int]
Padding = int | str | Sequence[int]

#: torch's bicubic constant (OpenCV's choice) for `mode="bicubic"`, antialias off.
CUBIC_A = -0.75


# --------------------------------------------------------------------------- helpers


def as_tuple(value: IntOrSeq, nd: int, name: str = "value") -> tuple[int, ...]:
    """An int broadcast to `nd` axes, or a sequence of exactly `nd` ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values * nd
    if len(values) != nd:
        raise ValueError(f"{name} needs {nd} values, got {values}")
    return values


def cells(shape: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every index of an array of `shape`, in row-major (C) order."""
    return product(*(range(n) for n in shape))


def flat_index(position: Sequence[int], shape: Sequence[int]) -> int:
    """Row-major flat index: for 2-D, `y * W + x`."""
    index = 0
    for p, n in zip(position, shape, strict=True):
        index = index * n + p
    return index


def unflat_index(index: int, shape: Sequence[int]) -> tuple[int, ...]:
    """Inverse of `flat_index`."""
    position: list[int] = []
    for n in reversed(shape):
        position.append(index % n)
        index //= n
    return tuple(reversed(position))


def to_array(value: object) -> np.ndarray:
    """Nested lists (the JSON body) -> float64 array."""
    return np.asarray(value, dtype=np.float64)


# --------------------------------------------------------------------------- size arithmetic


def conv_output_size(
    n: int, k: int, stride: int = 1, pad_left: int = 0, pad_right: int | None = None, dilation: int = 1
) -> int:
    """o = floor((n + p_l + p_r - d(k-1) - 1) / s) + 1  (Dumoulin & Visin rel. 6 and 15)."""
    pad_right = pad_left if pad_right is None else pad_right
    return (n + pad_left + pad_right - dilation * (k - 1) - 1) // stride + 1


def conv_transpose_output_size(
    n: int, k: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """o = (n - 1)s - 2p + d(k-1) + output_padding + 1  (torch.nn.ConvTranspose)."""
    return (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


def pool_output_size(
    n: int, k: int, stride: int, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Pooling output size, torch's `pooling_output_shape`.

    floor mode: o = floor((n + 2p - d(k-1) - 1) / s) + 1.
    ceil mode:  o = ceil((n + 2p - d(k-1) - 1) / s) + 1, then o -= 1 when the last
    window would start at or past the end of the input, i.e. (o-1)s >= n + p.
    """
    span = n + 2 * padding - dilation * (k - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


def unpool_output_size(n: int, k: int, stride: int, padding: int = 0) -> int:
    """Default max_unpool output size: (n - 1)s - 2p + k."""
    return (n - 1) * stride - 2 * padding + k


def same_padding(k: int, dilation: int = 1) -> tuple[int, int]:
    """padding='same': total d(k-1), left = total // 2, the odd one extra on the right/bottom."""
    total = dilation * (k - 1)
    return total // 2, total - total // 2


def resolve_conv_padding(
    padding: Padding, kernel: Sequence[int], dilation: Sequence[int]
) -> list[tuple[int, int]]:
    """(left, right) zero-padding per spatial axis for an int, a per-axis sequence, 'same' or 'valid'."""
    nd = len(kernel)
    if padding == "valid":
        return [(0, 0)] * nd
    if padding == "same":
        return [same_padding(k, d) for k, d in zip(kernel, dilation, strict=True)]
    assert not isinstance(padding, str)
    return [(p, p) for p in as_tuple(padding, nd, "padding")]


def padded_source(i: int, n: int, mode: str) -> int | None:
    """Where padded coordinate `i` (may be < 0 or >= n) reads from in an axis of length n.

    zeros: None outside [0, n)            (the cell is a zero)
    reflect: mirror without repeating the edge: -1 -> 1, n -> n-2   (needs pad < n)
    replicate: clamp to [0, n-1]
    circular: wrap, i mod n              (needs pad <= n)
    """
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    if mode == "reflect":
        return -i if i < 0 else 2 * (n - 1) - i
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "circular":
        return i % n
    raise ValueError(f"unknown padding_mode {mode!r}")


def conv_source(
    pos: Sequence[int],
    tap: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    in_size: Sequence[int],
    padding_mode: str,
) -> list[int | None]:
    """The input cell that kernel tap t of output cell y reads: y*s - p_left + t*d per axis, through the padding."""
    return [
        padded_source(pos[a] * stride[a] - pads[a][0] + tap[a] * dilation[a], in_size[a], padding_mode)
        for a in range(len(pos))
    ]
