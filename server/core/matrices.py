"""im2col and the Toeplitz matrix C: convolution as a matrix product.

im2col: one row per output position (row-major), one column per kernel tap
ordered (c, ky, kx) as torch's unfold; with groups=1,
output[n, o].flatten() = im2col[n] @ weight[o].flatten().
Toeplitz: the dense C with output.flatten() = C @ input.flatten() (bias
excluded), over the whole N×C×... tensors; its transpose is conv_transpose.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .exceptions import InvalidRequest
from .limits import Limits, check_cap, numel

# torch.func's own internals say these on first use; they are about torch, not about the request.
TORCH_FUNC_NOISE = ("`torch.jit.script` is deprecated",
                    "There is a performance drop because we have not yet implemented the batching rule")
for _message in TORCH_FUNC_NOISE:
    warnings.filterwarnings("ignore", message=_message)


def taps_per_cell(family: str, spec: Any) -> int:
    """An upper bound on the terms one output cell sums (what a trace lists)."""
    if family in ("conv", "conv_transpose"):
        groups_in = spec.input_shape[1] // spec.groups
        return groups_in * numel(spec.kernel)
    if family in ("max_pool", "avg_pool"):
        return numel(spec.kernel)
    if family == "max_unpool":
        return 1
    return (4 if spec.mode == "bicubic" else 2) ** spec.dims


def check_extra(extra: str, op: str, family: str, spec: Any, in_shape: tuple[int, ...],
                out_shape: tuple[int, ...], limits: Limits) -> None:
    """Refuse an extra before computing it when it would pass its cap."""
    if extra == "toeplitz":
        check_cap(numel(in_shape) * numel(out_shape), limits.max_toeplitz_entries, "The Toeplitz matrix", "extras",
                  f" ({numel(out_shape)} outputs × {numel(in_shape)} inputs; it is meant for small inputs)")
    elif extra == "im2col":
        if family != "conv":
            raise InvalidRequest(f"im2col is defined for conv1d and conv2d, not {op}.", ["extras"])
        rows = numel(out_shape[2:]) * out_shape[0]
        check_cap(rows * in_shape[1] * numel(spec.kernel), limits.max_im2col_elements, "The im2col matrix", "extras")
    else:
        check_cap(numel(out_shape) * taps_per_cell(family, spec), limits.max_trace_terms, "The trace", "extras",
                  " terms (use a smaller input for the animation)")


def toeplitz(f: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray) -> np.ndarray:
    """C = d output / d input, exact for linear ops (and max_pool's selection around this input).

    Forward mode: reverse mode would sum max_unpool's repeated indices twice, and torch's interpolate
    backward copies where the forward interpolates when a scale_factor keeps the size."""
    tx = torch.as_tensor(x, dtype=torch.float64)
    jac = torch.func.jacfwd(f)(tx)
    out_numel = jac.numel() // tx.numel()
    return jac.reshape(out_numel, tx.numel()).numpy()


def im2col(x: np.ndarray, spec: Any) -> np.ndarray:
    """N × positions × (C·kH·kW): each row is one window of the padded input, unrolled."""
    from .ops import pad_input  # the same padding the op itself used

    t = pad_input(spec, torch.as_tensor(x, dtype=torch.float64))
    kernel, stride, dilation = spec.kernel, spec.stride, spec.dilation
    if spec.dims == 1:
        t, kernel, stride, dilation = t.unsqueeze(2), (1, *kernel), (1, *stride), (1, *dilation)
    cols = F.unfold(t, kernel, dilation=dilation, padding=0, stride=stride)
    return cols.transpose(1, 2).numpy()


def unpool_toeplitz(indices: np.ndarray, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """max_unpool's C, built from the indices: one 1 per output cell, from the first input sent there.

    Repeated indices carry equal values (the op refuses others), so C @ x is the output exactly; a Jacobian
    would count such a cell once per write, in whatever order the threads wrote."""
    planes = in_shape[0] * in_shape[1]
    per_in, per_out = numel(in_shape[2:]), numel(out_shape[2:])
    c = np.zeros((planes * per_out, planes * per_in))
    flat = indices.reshape(planes, per_in)
    for plane in range(planes):
        for pos in range(per_in):
            row = plane * per_out + int(flat[plane, pos])
            if not c[row].any():
                c[row, plane * per_in + pos] = 1.0
    return c
