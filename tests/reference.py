"""An independent reference for every convscope op, written from the formulas.

This module is the oracle the tests hold `server.core.ops` to. It never
imports torch, and it uses numpy only to *hold* arrays: every sum, product,
max and index is computed by a plain Python loop over output cells, so that a
reader can check each function against the formula in its docstring.

Shapes follow torch: tensors are (N, C, *spatial) with one spatial axis for
the 1-D ops and two for the 2-D ops. Every function here works for any number
of spatial axes; `itertools.product` walks the cells in row-major order.

Conventions (PyTorch's rules are the rules):
- convolution is cross-correlation;
- a "flat index" into a plane is the row-major index `y * W + x`;
- parameters are given either as ints or as one int per spatial axis.
"""
from __future__ import annotations

import math
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


# --------------------------------------------------------------------------- convolution


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """Grouped, strided, dilated, padded cross-correlation (conv1d / conv2d).

    out[n, o, y] = bias[o] + sum_{c, t} xpad[n, g*Cg + c, y*s - p_left + t*d] * w[o, c, t]
    with g = o // (C_out / G) the group of output channel o, Cg = C_in / G, and
    xpad the input seen through `padded_source` (the padding mode).
    """
    x, weight = to_array(x), to_array(weight)
    nd = x.ndim - 2
    batch, c_in, *in_size = x.shape
    c_out, c_in_group, *kernel = weight.shape
    assert c_in == c_in_group * groups and c_out % groups == 0
    s, d = as_tuple(stride, nd, "stride"), as_tuple(dilation, nd, "dilation")
    pads = resolve_conv_padding(padding, kernel, d)
    out_size = [conv_output_size(in_size[a], kernel[a], s[a], pads[a][0], pads[a][1], d[a]) for a in range(nd)]
    c_out_group = c_out // groups
    out = np.zeros((batch, c_out, *out_size))
    for n, o in cells((batch, c_out)):
        g = o // c_out_group
        for pos in cells(out_size):
            acc = 0.0 if bias is None else float(bias[o])
            for c in range(c_in_group):
                for tap in cells(kernel):
                    src = conv_source(pos, tap, s, pads, d, in_size, padding_mode)
                    if None in src:
                        continue
                    acc += x[(n, g * c_in_group + c, *src)] * weight[(o, c, *tap)]
            out[(n, o, *pos)] = acc
    return out


def conv_backward(
    x: np.ndarray,
    weight: np.ndarray,
    grad_output: np.ndarray,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_input, grad_weight, grad_bias) of `conv`, by the chain rule on each product term.

    Every term x[n, c_in, src] * w[o, c, t] of out[n, o, y] contributes
      grad_input[n, c_in, src] += g[n, o, y] * w[o, c, t]
      grad_weight[o, c, t]     += g[n, o, y] * x[n, c_in, src]
    and grad_bias[o] = sum_{n, y} g[n, o, y].  Padding cells that read a real
    cell (reflect/replicate/circular) send their gradient to that cell.
    """
    x, weight, grad_output = to_array(x), to_array(weight), to_array(grad_output)
    nd = x.ndim - 2
    batch, _, *in_size = x.shape
    c_out, c_in_group, *kernel = weight.shape
    s, d = as_tuple(stride, nd, "stride"), as_tuple(dilation, nd, "dilation")
    pads = resolve_conv_padding(padding, kernel, d)
    out_size = grad_output.shape[2:]
    c_out_group = c_out // groups
    grad_input, grad_weight, grad_bias = np.zeros(x.shape), np.zeros(weight.shape), np.zeros(c_out)
    for n, o in cells((batch, c_out)):
        g = o // c_out_group
        for pos in cells(out_size):
            go = grad_output[(n, o, *pos)]
            grad_bias[o] += go
            for c in range(c_in_group):
                for tap in cells(kernel):
                    src = conv_source(pos, tap, s, pads, d, in_size, padding_mode)
                    if None in src:
                        continue
                    grad_input[(n, g * c_in_group + c, *src)] += go * weight[(o, c, *tap)]
                    grad_weight[(o, c, *tap)] += go * x[(n, g * c_in_group + c, *src)]
    return grad_input, grad_weight, grad_bias


def conv_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> np.ndarray:
    """Transposed convolution as a scatter: each input cell stamps a weighted copy of the kernel.

    out[n, g*Og + j, i*s - p + t*d] += x[n, c, i] * w[c, j, t]   for c in group g
    weight layout (C_in, C_out / G, *k); output size (n-1)s - 2p + d(k-1) + output_padding + 1;
    stamps falling outside [0, out) are cropped (that is what `padding` does here).
    """
    x, weight = to_array(x), to_array(weight)
    nd = x.ndim - 2
    batch, c_in, *in_size = x.shape
    c_in_w, c_out_group, *kernel = weight.shape
    assert c_in_w == c_in and c_in % groups == 0
    s, p = as_tuple(stride, nd, "stride"), as_tuple(padding, nd, "padding")
    op, d = as_tuple(output_padding, nd, "output_padding"), as_tuple(dilation, nd, "dilation")
    out_size = [conv_transpose_output_size(in_size[a], kernel[a], s[a], p[a], op[a], d[a]) for a in range(nd)]
    c_in_group = c_in // groups
    out = np.zeros((batch, c_out_group * groups, *out_size))
    for n, c in cells((batch, c_in)):
        g = c // c_in_group
        for pos in cells(in_size):
            value = x[(n, c, *pos)]
            for j in range(c_out_group):
                for tap in cells(kernel):
                    dst = [pos[a] * s[a] - p[a] + tap[a] * d[a] for a in range(nd)]
                    if all(0 <= dst[a] < out_size[a] for a in range(nd)):
                        out[(n, g * c_out_group + j, *dst)] += value * weight[(c, j, *tap)]
    if bias is not None:
        for n, o in cells(out.shape[:2]):
            for pos in cells(out_size):
                out[(n, o, *pos)] += bias[o]
    return out


def conv_transpose_backward(
    x: np.ndarray,
    weight: np.ndarray,
    grad_output: np.ndarray,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_input, grad_weight, grad_bias) of `conv_transpose`, term by term of the scatter.

    Each stamp out[n, o, dst] += x[n, c, i] * w[c, j, t] gives
      grad_input[n, c, i] += g[n, o, dst] * w[c, j, t],  grad_weight[c, j, t] += g[n, o, dst] * x[n, c, i].
    """
    x, weight, grad_output = to_array(x), to_array(weight), to_array(grad_output)
    nd = x.ndim - 2
    batch, c_in, *in_size = x.shape
    _, c_out_group, *kernel = weight.shape
    s, p, d = as_tuple(stride, nd), as_tuple(padding, nd), as_tuple(dilation, nd)
    out_size = grad_output.shape[2:]
    c_in_group = c_in // groups
    grad_input, grad_weight = np.zeros(x.shape), np.zeros(weight.shape)
    grad_bias = np.zeros(grad_output.shape[1])
    for n, o in cells(grad_output.shape[:2]):
        for pos in cells(out_size):
            grad_bias[o] += grad_output[(n, o, *pos)]
    for n, c in cells((batch, c_in)):
        g = c // c_in_group
        for pos in cells(in_size):
            for j in range(c_out_group):
                for tap in cells(kernel):
                    dst = [pos[a] * s[a] - p[a] + tap[a] * d[a] for a in range(nd)]
                    if all(0 <= dst[a] < out_size[a] for a in range(nd)):
                        go = grad_output[(n, g * c_out_group + j, *dst)]
                        grad_input[(n, c, *pos)] += go * weight[(c, j, *tap)]
                        grad_weight[(c, j, *tap)] += go * x[(n, c, *pos)]
    return grad_input, grad_weight, grad_bias


def im2col(
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """The unfolded input: [N, output positions (row-major), C * prod(k)] with columns in (c, *tap) order.

    row r = output position y, column (c, t): xpad[n, c, y*s - p_left + t*d]  (torch's unfold order).
    """
    x = to_array(x)
    nd = x.ndim - 2
    batch, c_in, *in_size = x.shape
    kernel, s, d = as_tuple(kernel_size, nd), as_tuple(stride, nd), as_tuple(dilation, nd)
    pads = resolve_conv_padding(padding, kernel, d)
    out_size = [conv_output_size(in_size[a], kernel[a], s[a], pads[a][0], pads[a][1], d[a]) for a in range(nd)]
    columns = [(c, tap) for c in range(c_in) for tap in cells(kernel)]
    result = np.zeros((batch, math.prod(out_size), len(columns)))
    for n in range(batch):
        for row, pos in enumerate(cells(out_size)):
            for col, (c, tap) in enumerate(columns):
                src = conv_source(pos, tap, s, pads, d, in_size, padding_mode)
                result[n, row, col] = 0.0 if None in src else x[(n, c, *src)]
    return result


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


# --------------------------------------------------------------------------- dispatch on the API body


def run(op: str, body: dict) -> dict[str, np.ndarray]:
    """The reference answer for an API body: {"output": ..., "indices": ...(max_pool only)}."""
    x = to_array(body["input"])
    bias = None if body.get("bias") is None else to_array(body["bias"])
    if op in ("conv1d", "conv2d"):
        out = conv(x, to_array(body["weight"]), bias, body.get("stride", 1), body.get("padding", 0),
                   body.get("dilation", 1), body.get("groups", 1), body.get("padding_mode", "zeros"))
        return {"output": out}
    if op in ("conv_transpose1d", "conv_transpose2d"):
        out = conv_transpose(x, to_array(body["weight"]), bias, body.get("stride", 1), body.get("padding", 0),
                             body.get("output_padding", 0), body.get("groups", 1), body.get("dilation", 1))
        return {"output": out}
    if op in ("max_pool1d", "max_pool2d"):
        values, indices = max_pool(x, body["kernel_size"], body.get("stride"), body.get("padding", 0),
                                   body.get("dilation", 1), body.get("ceil_mode", False))
        return {"output": values, "indices": indices}
    if op in ("avg_pool1d", "avg_pool2d"):
        out = avg_pool(x, body["kernel_size"], body.get("stride"), body.get("padding", 0),
                       body.get("ceil_mode", False), body.get("count_include_pad", True))
        return {"output": out}
    if op in ("max_unpool1d", "max_unpool2d"):
        out = max_unpool(x, np.asarray(body["indices"]), body["kernel_size"], body.get("stride"),
                         body.get("padding", 0), body.get("output_size"))
        return {"output": out}
    if op == "interpolate":
        out = interpolate(x, body.get("size"), body.get("scale_factor"), body.get("mode", "nearest"),
                          body.get("align_corners"))
        return {"output": out}
    raise ValueError(f"unknown op {op!r}")
