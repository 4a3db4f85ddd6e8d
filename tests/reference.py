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

The loop reference is split by family: reference_base.py (helpers, size arithmetic), this module (convolution,
transposed convolution, im2col, dispatch), reference_pool.py (pooling, unpooling), reference_interp.py
(interpolation). Every name is read through here.
"""
from __future__ import annotations

import math

import numpy as np

from tests.reference_base import *  # noqa: F401,F403
from tests.reference_interp import *  # noqa: F401,F403
from tests.reference_pool import *  # noqa: F401,F403



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
