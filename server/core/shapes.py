"""Output-size arithmetic for every op, with PyTorch's exact rules.

Every request is checked here, on shapes alone, before a tensor is made.
The formulas follow torch.nn's documentation and Dumoulin & Visin,
"A guide to convolution arithmetic for deep learning" (2016):

    conv:            o = floor((i + p_lo + p_hi - d(k-1) - 1) / s) + 1
    conv_transpose:  o = (i-1)s - 2p + d(k-1) + output_padding + 1
    pool:            o = floor_or_ceil((i + 2p - d(k-1) - 1) / s) + 1,
                     and with ceil_mode the last window may not start in the right padding
    max_unpool:      o = (i-1)s - 2p + k   (or output_size, strictly within one stride of it)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .exceptions import InvalidRequest
# The formulas and integer parameters (sizes.py) and the pooling checks (shapes_pool.py) are read through here.
from .sizes import (_AXES, MAX_INT, PADDING_MODES, _check_at_most, _is_int, _shape_str, _shown,  # noqa: F401
                    check_rank, conv_output_length, conv_transpose_output_length, effective_kernel, flag, int_tuple,
                    pool_output_length, same_padding, unpool_default_length)
from .shapes_pool import (INTERPOLATE_MODES, InterpolateSpec, PoolSpec, check_interpolate, check_pool,  # noqa: F401
                          check_unpool)

# ---------------------------------------------------------------- convolution
@dataclass(frozen=True)
class ConvSpec:
    """A validated convolution: everything the op, the trace and the page need."""

    dims: int
    transposed: bool
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]  # (before, after) per axis
    dilation: tuple[int, ...]
    output_padding: tuple[int, ...]
    groups: int
    padding_mode: str

    @property
    def symmetric_padding(self) -> tuple[int, ...] | None:
        """The int padding torch's functional call takes, or None for 'same' with an odd extra."""
        if all(lo == hi for lo, hi in self.padding):
            return tuple(lo for lo, _ in self.padding)
        return None


def _conv_padding(value: Any, dims: int, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    if value == "valid":
        return ((0, 0),) * dims
    if value == "same":
        if any(s != 1 for s in stride):
            raise InvalidRequest(
                f"padding='same' needs stride 1 (torch refuses it for strided convolutions), but stride is "
                f"{list(stride)}; give the padding as numbers instead.", ["padding"])
        return tuple(same_padding(k, d) for k, d in zip(kernel, dilation))
    if isinstance(value, str):
        raise InvalidRequest(f"padding must be an integer, a list of {dims} integers, 'same' or 'valid', got {value!r}.",
                             ["padding"])
    return tuple((p, p) for p in int_tuple(value, dims, "padding", minimum=0))


def check_conv(input_shape: Sequence[int], weight_shape: Sequence[int], bias_shape: Sequence[int] | None,
               params: dict[str, Any], dims: int) -> ConvSpec:
    """conv1d/conv2d: weight is (C_out, C_in/groups, *kernel)."""
    layout = "N×C×L" if dims == 1 else "N×C×H×W"
    check_rank(input_shape, dims, "input", layout)
    check_rank(weight_shape, dims, "weight", "C_out×C_in/groups×" + ("kL" if dims == 1 else "kH×kW"))
    stride = int_tuple(params.get("stride", 1), dims, "stride", minimum=1)
    dilation = int_tuple(params.get("dilation", 1), dims, "dilation", minimum=1)
    groups = _groups(params.get("groups", 1))
    n, c_in, *spatial = input_shape
    c_out, c_per_group, *kernel = weight_shape
    _check_nonempty(input_shape, weight_shape)
    if c_in % groups:
        raise InvalidRequest(f"groups ({groups}) must divide the input channels ({c_in}).", ["groups"])
    if c_out % groups:
        raise InvalidRequest(f"groups ({groups}) must divide the output channels ({c_out}, the weight's first "
                             f"dimension).", ["groups"])
    if c_per_group != c_in // groups:
        raise InvalidRequest(
            f"weight's second dimension is {c_per_group}, but it must be input channels / groups = "
            f"{c_in} / {groups} = {c_in // groups}.", ["weight"])
    _check_bias(bias_shape, c_out)
    padding = _conv_padding(params.get("padding", 0), dims, tuple(kernel), stride, dilation)
    mode = params.get("padding_mode", "zeros")
    if mode not in PADDING_MODES:
        raise InvalidRequest(f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {mode!r}.",
                             ["padding_mode"])
    out = []
    for axis, i, k, s, (lo, hi), d in zip(_AXES[dims], spatial, kernel, stride, padding, dilation):
        _check_copy_padding(mode, axis, i, lo, hi)
        padded = i + lo + hi
        if effective_kernel(k, d) > padded:
            raise InvalidRequest(
                f"The {axis} kernel spans d(k-1)+1 = {d}·({k}-1)+1 = {effective_kernel(k, d)} cells, more than "
                f"the padded input's {padded} ({i} + {lo} + {hi} padding).", ["weight"])
        out.append(conv_output_length(i, k, s, lo + hi, d))
    return ConvSpec(dims, False, tuple(input_shape), tuple(weight_shape), (n, c_out, *out), tuple(kernel),
                    stride, padding, dilation, (0,) * dims, groups, mode)


def check_conv_transpose(input_shape: Sequence[int], weight_shape: Sequence[int], bias_shape: Sequence[int] | None,
                         params: dict[str, Any], dims: int) -> ConvSpec:
    """conv_transpose1d/2d: weight is (C_in, C_out/groups, *kernel)."""
    layout = "N×C×L" if dims == 1 else "N×C×H×W"
    check_rank(input_shape, dims, "input", layout)
    check_rank(weight_shape, dims, "weight", "C_in×C_out/groups×" + ("kL" if dims == 1 else "kH×kW"))
    stride = int_tuple(params.get("stride", 1), dims, "stride", minimum=1)
    dilation = int_tuple(params.get("dilation", 1), dims, "dilation", minimum=1)
    if isinstance(params.get("padding"), str):
        raise InvalidRequest("conv_transpose takes padding as numbers only ('same' and 'valid' are for conv).",
                             ["padding"])
    padding = int_tuple(params.get("padding", 0), dims, "padding", minimum=0)
    output_padding = int_tuple(params.get("output_padding", 0), dims, "output_padding", minimum=0)
    groups = _groups(params.get("groups", 1))
    n, c_in, *spatial = input_shape
    w_in, c_out_per_group, *kernel = weight_shape
    _check_nonempty(input_shape, weight_shape)
    if c_in % groups:
        raise InvalidRequest(f"groups ({groups}) must divide the input channels ({c_in}).", ["groups"])
    if w_in != c_in:
        raise InvalidRequest(
            f"For conv_transpose the weight is C_in×C_out/groups×kernel: its first dimension ({w_in}) must equal "
            f"the input channels ({c_in}).", ["weight"])
    c_out = c_out_per_group * groups
    _check_bias(bias_shape, c_out)
    out = []
    for axis, i, k, s, p, op, d in zip(_AXES[dims], spatial, kernel, stride, padding, output_padding, dilation):
        if op >= max(s, d):
            raise InvalidRequest(
                f"output_padding ({op}) must be smaller than stride ({s}) or dilation ({d}) on the {axis} axis.",
                ["output_padding"])
        o = conv_transpose_output_length(i, k, s, p, op, d)
        if o < 1:
            raise InvalidRequest(
                f"The {axis} output would be (i-1)s - 2p + d(k-1) + output_padding + 1 = ({i}-1)·{s} - 2·{p} + "
                f"{d}·({k}-1) + {op} + 1 = {o}; it must be at least 1, so reduce the padding.", ["padding"])
        out.append(o)
    return ConvSpec(dims, True, tuple(input_shape), tuple(weight_shape), (n, c_out, *out), tuple(kernel), stride,
                    tuple((p, p) for p in padding), dilation, output_padding, groups, "zeros")


def _groups(value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise InvalidRequest(f"groups must be a positive integer, got {value!r}.", ["groups"])
    _check_at_most(value, "groups")
    return value


def _check_nonempty(*shapes: Sequence[int]) -> None:
    for name, shape in zip(("input", "weight"), shapes):
        if any(v < 1 for v in shape):
            raise InvalidRequest(f"{name} has an empty dimension (shape {_shape_str(shape)}).", [name])


def _check_bias(bias_shape: Sequence[int] | None, c_out: int) -> None:
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise InvalidRequest(
            f"bias must have one value per output channel: shape {c_out}, got {_shape_str(bias_shape) or 'scalar'}.",
            ["bias"])


def _check_copy_padding(mode: str, axis: str, n: int, lo: int, hi: int) -> None:
    """reflect mirrors without repeating the edge, so it needs padding < size; circular wraps once at most."""
    p = max(lo, hi)
    if mode == "reflect" and p >= n:
        raise InvalidRequest(
            f"reflect padding ({p}) must be smaller than the input's {axis} ({n}): a reflection cannot reach "
            f"past the far edge.", ["padding"])
    if mode == "circular" and p > n:
        raise InvalidRequest(
            f"circular padding ({p}) may be at most the input's {axis} ({n}): it wraps around once.", ["padding"])
