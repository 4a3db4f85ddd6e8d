"""The loop reference for max, average pooling (and their backward) and max unpooling.

Part of the loop reference (tests/reference.py re-exports every name here): no torch, plain Python loops.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import product

import numpy as np

from tests.reference_base import IntOrSeq, as_tuple, cells, flat_index, pool_output_size, to_array, unflat_index, unpool_output_size


# --------------------------------------------------------------------------- pooling


def max_pool(
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices) of max pooling.

    Window of output y: taps at y*s - p + t*d; taps outside the input are padding
    and count as -inf. The index is the row-major flat index (in the input plane)
    of the FIRST maximal tap in row-major tap order (strict `>` while scanning).
    """
    x = to_array(x)
    nd = x.ndim - 2
    batch, chans, *in_size = x.shape
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    s = kernel if stride is None or stride == [] else as_tuple(stride, nd, "stride")
    p, d = as_tuple(padding, nd, "padding"), as_tuple(dilation, nd, "dilation")
    out_size = [pool_output_size(in_size[a], kernel[a], s[a], p[a], d[a], ceil_mode) for a in range(nd)]
    values = np.zeros((batch, chans, *out_size))
    indices = np.zeros((batch, chans, *out_size), dtype=np.int64)
    for n, c in cells((batch, chans)):
        for pos in cells(out_size):
            best, best_index = -math.inf, -1
            for tap in cells(kernel):
                src = [pos[a] * s[a] - p[a] + tap[a] * d[a] for a in range(nd)]
                if not all(0 <= src[a] < in_size[a] for a in range(nd)):
                    continue
                value = x[(n, c, *src)]
                if value > best or best_index < 0:
                    best, best_index = value, flat_index(src, in_size)
            values[(n, c, *pos)] = best
            indices[(n, c, *pos)] = best_index
    return values, indices


def pool_window(
    pos: Sequence[int],
    in_size: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> list[tuple[int, ...]]:
    """The in-input cells (row-major) of the max-pool window of output cell `pos`."""
    nd = len(in_size)
    window = []
    for tap in cells(kernel):
        src = tuple(pos[a] * stride[a] - padding[a] + tap[a] * dilation[a] for a in range(nd))
        if all(0 <= src[a] < in_size[a] for a in range(nd)):
            window.append(src)
    return window


def avg_pool(
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Average pooling, torch's divisor rule.

    Per axis: start = y*s - p, end = min(start + k, n + p)  (clipped to the padded extent);
    pool_size = prod(end - start).  Then start, end are clipped to [0, n) for the sum,
    and the divisor is pool_size if count_include_pad else the number of real cells.
    """
    x = to_array(x)
    nd = x.ndim - 2
    batch, chans, *in_size = x.shape
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    s = kernel if stride is None or stride == [] else as_tuple(stride, nd, "stride")
    p = as_tuple(padding, nd, "padding")
    out_size = [pool_output_size(in_size[a], kernel[a], s[a], p[a], 1, ceil_mode) for a in range(nd)]
    out = np.zeros((batch, chans, *out_size))
    for n, c in cells((batch, chans)):
        for pos in cells(out_size):
            starts = [pos[a] * s[a] - p[a] for a in range(nd)]
            ends = [min(starts[a] + kernel[a], in_size[a] + p[a]) for a in range(nd)]
            padded_count = math.prod(ends[a] - starts[a] for a in range(nd))
            lo = [max(starts[a], 0) for a in range(nd)]
            hi = [min(ends[a], in_size[a]) for a in range(nd)]
            real = [range(lo[a], hi[a]) for a in range(nd)]
            total, count = 0.0, 0
            for src in product(*real):
                total += x[(n, c, *src)]
                count += 1
            out[(n, c, *pos)] = total / (padded_count if count_include_pad else count)
    return out


def max_pool_backward(
    x: np.ndarray,
    grad_output: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
) -> np.ndarray:
    """grad_input of max pooling: out[y] = x[argmax of window y], so d out[y] / d x[i] = 1 exactly when i is
    that argmax (the first maximal tap, as `max_pool` scans), and grad_input[i] = sum of g[y] over the
    windows whose argmax is i."""
    x, grad_output = to_array(x), to_array(grad_output)
    _, indices = max_pool(x, kernel_size, stride, padding, dilation, ceil_mode)
    grad = np.zeros(x.shape)
    for n, c, *pos in cells(grad_output.shape):
        src = unflat_index(int(indices[(n, c, *pos)]), x.shape[2:])
        grad[(n, c, *src)] += grad_output[(n, c, *pos)]
    return grad


def avg_pool_backward(
    x: np.ndarray,
    grad_output: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """grad_input of average pooling: out[y] = (sum of the window's real cells) / divisor(y), so every real
    cell i of window y gets g[y] / divisor(y); the divisor is `avg_pool`'s rule, or divisor_override."""
    x, grad_output = to_array(x), to_array(grad_output)
    nd = x.ndim - 2
    in_size = x.shape[2:]
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    s = kernel if stride is None or stride == [] else as_tuple(stride, nd, "stride")
    p = as_tuple(padding, nd, "padding")
    grad = np.zeros(x.shape)
    for n, c, *pos in cells(grad_output.shape):
        starts = [pos[a] * s[a] - p[a] for a in range(nd)]
        ends = [min(starts[a] + kernel[a], in_size[a] + p[a]) for a in range(nd)]
        lo = [max(starts[a], 0) for a in range(nd)]
        hi = [min(ends[a], in_size[a]) for a in range(nd)]
        real = list(product(*(range(lo[a], hi[a]) for a in range(nd))))
        if divisor_override:
            divisor = divisor_override
        elif count_include_pad:
            divisor = math.prod(ends[a] - starts[a] for a in range(nd))
        else:
            divisor = len(real)
        for src in real:
            grad[(n, c, *src)] += grad_output[(n, c, *pos)] / divisor
    return grad


def max_unpool(
    x: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    output_size: Sequence[int] | None = None,
) -> np.ndarray:
    """Partial inverse of max pooling: out.flat[indices[y]] = x[y] in each (n, c) plane, zeros elsewhere.

    Output size (n-1)s - 2p + k per axis unless `output_size` (spatial, or the full shape) is given.
    """
    x = to_array(x)
    indices = np.asarray(indices, dtype=np.int64)
    nd = x.ndim - 2
    batch, chans, *in_size = x.shape
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    s = kernel if stride is None or stride == [] else as_tuple(stride, nd, "stride")
    p = as_tuple(padding, nd, "padding")
    if output_size is None:
        out_size = [unpool_output_size(in_size[a], kernel[a], s[a], p[a]) for a in range(nd)]
    else:
        out_size = [int(v) for v in list(output_size)[-nd:]]
    plane = math.prod(out_size)
    out = np.zeros((batch, chans, *out_size))
    for n, c in cells((batch, chans)):
        for pos in cells(in_size):
            index = int(indices[(n, c, *pos)])
            if not 0 <= index < plane:
                raise ValueError(f"index {index} outside an output plane of {plane} cells")
            out[(n, c, *unflat_index(index, out_size))] = x[(n, c, *pos)]
    return out
