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

import math
from dataclasses import dataclass
from typing import Any, Sequence

from .exceptions import InvalidRequest

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
#: The largest size, stride, padding, dilation, groups or divisor taken: torch's pooling kernels and cuDNN take
#: 32-bit ints (torch fails with "value cannot be converted to type int without overflow" past it).
MAX_INT = 2**31 - 1
_AXES = {1: ("length",), 2: ("height", "width")}


# ---------------------------------------------------------------- per-axis formulas
def effective_kernel(k: int, d: int) -> int:
    """A dilated kernel spans d(k-1)+1 input cells."""
    return d * (k - 1) + 1


def conv_output_length(n: int, k: int, s: int, pad_total: int, d: int) -> int:
    """floor((n + p_lo + p_hi - d(k-1) - 1) / s) + 1; pad_total = p_lo + p_hi."""
    return (n + pad_total - d * (k - 1) - 1) // s + 1


def conv_transpose_output_length(n: int, k: int, s: int, p: int, output_padding: int, d: int) -> int:
    """(n-1)s - 2p + d(k-1) + output_padding + 1: the input size of the conv it transposes."""
    return (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def pool_output_length(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling_output_shape: floor (or ceil) division, then drop a last window
    that would start in the right padding (ceil_mode only)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def unpool_default_length(n: int, k: int, s: int, p: int) -> int:
    """(n-1)s - 2p + k: the size max_pool would have come from without ceil or odd leftovers."""
    return (n - 1) * s - 2 * p + k


def same_padding(k: int, d: int) -> tuple[int, int]:
    """padding='same': total d(k-1), the odd extra on the right/bottom, as torch does."""
    total = d * (k - 1)
    return total // 2, total - total // 2


# ---------------------------------------------------------------- parameter parsing
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _shown(v: int) -> str:
    text = str(v)
    return text if len(text) <= 24 else f"{text[:12]}… ({len(text)} digits)"


def _check_at_most(v: int, name: str, axis: str | None = None) -> None:
    if v > MAX_INT:
        where = f" on every axis, but the {axis} value is" if axis else ", got"
        raise InvalidRequest(f"{name} must be at most 2^31 − 1 = {MAX_INT:,} (torch's pooling and cuDNN take 32-bit "
                             f"ints){where} {_shown(v)}.", [name])


def int_tuple(value: Any, dims: int, name: str, *, minimum: int) -> tuple[int, ...]:
    """An int or a list of `dims` ints (torch's int-or-tuple), each >= minimum."""
    what = "an integer" if dims == 1 else f"an integer or a list of {dims} integers"
    if _is_int(value):
        values = (value,) * dims
    elif isinstance(value, (list, tuple)) and len(value) == dims and all(_is_int(v) for v in value):
        values = tuple(value)
    elif isinstance(value, (list, tuple)) and len(value) == 1 and _is_int(value[0]):
        values = (value[0],) * dims
    else:
        raise InvalidRequest(f"{name} must be {what}, got {value!r}.", [name])
    for axis, v in zip(_AXES[dims], values):
        if v < minimum:
            rule = "at least 1" if minimum == 1 else "non-negative"
            raise InvalidRequest(f"{name} must be {rule} on every axis, but the {axis} value is {v}.", [name])
        _check_at_most(v, name, axis)
    return values


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false, got {value!r}.", [name])
    return value


def _shape_str(shape: Sequence[int]) -> str:
    return "×".join(str(v) for v in shape)


def check_rank(shape: Sequence[int], dims: int, name: str, layout: str) -> None:
    if len(shape) != dims + 2:
        raise InvalidRequest(
            f"{name} must be a rank-{dims + 2} tensor ({layout}), but it has rank {len(shape)} "
            f"(shape {_shape_str(shape) or 'scalar'}).",
            [name],
        )


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


# ---------------------------------------------------------------- pooling
@dataclass(frozen=True)
class PoolSpec:
    dims: int
    kind: str  # "max" | "avg" | "unpool"
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool
    count_include_pad: bool
    divisor_override: int | None = None


def _pool_common(input_shape: Sequence[int], params: dict[str, Any], dims: int):
    check_rank(input_shape, dims, "input", "N×C×L" if dims == 1 else "N×C×H×W")
    if any(v < 1 for v in input_shape):
        raise InvalidRequest(f"input has an empty dimension (shape {_shape_str(input_shape)}).", ["input"])
    if "kernel_size" not in params or params["kernel_size"] is None:
        raise InvalidRequest("kernel_size is required for pooling.", ["kernel_size"])
    kernel = int_tuple(params["kernel_size"], dims, "kernel_size", minimum=1)
    stride_value = params.get("stride")
    # torch: stride defaults to kernel_size (None or an empty list both mean "default").
    stride = kernel if stride_value in (None, []) else int_tuple(stride_value, dims, "stride", minimum=1)
    padding = int_tuple(params.get("padding", 0), dims, "padding", minimum=0)
    return kernel, stride, padding


def check_pool(input_shape: Sequence[int], params: dict[str, Any], dims: int, kind: str) -> PoolSpec:
    """max_pool / avg_pool. torch requires padding <= kernel_size // 2 (for max_pool2d, whatever the dilation)."""
    kernel, stride, padding = _pool_common(input_shape, params, dims)
    if kind == "max":
        dilation = int_tuple(params.get("dilation", 1), dims, "dilation", minimum=1)
    else:
        dilation = (1,) * dims
    ceil_mode = flag(params.get("ceil_mode", False), "ceil_mode")
    count_include_pad = flag(params.get("count_include_pad", True), "count_include_pad")
    divisor = params.get("divisor_override")
    if divisor is not None and (kind != "avg" or not _is_int(divisor) or divisor < 1):
        raise InvalidRequest(f"divisor_override must be a positive integer (avg_pool only), got {divisor!r}.",
                             ["divisor_override"])
    if divisor is not None:
        _check_at_most(divisor, "divisor_override")
        if dims == 1:
            raise InvalidRequest("avg_pool1d has no divisor_override in torch; leave it out.", ["divisor_override"])
    out = []
    for axis, i, k, s, p, d in zip(_AXES[dims], input_shape[2:], kernel, stride, padding, dilation):
        if p > k // 2:
            raise InvalidRequest(
                f"Pool padding ({p}) must be at most half the kernel size ({k} // 2 = {k // 2}) on the {axis} "
                f"axis, so that every window holds at least one real input cell.", ["padding"])
        o = pool_output_length(i, k, s, p, d, ceil_mode)
        if o < 1:
            raise InvalidRequest(
                f"The {axis} window spans d(k-1)+1 = {effective_kernel(k, d)} cells, more than the padded input's "
                f"{i + 2 * p} ({i} + 2·{p}); the output would be {o} wide.", ["kernel_size"])
        if kind == "max":
            _check_windows_reach_input(axis, i, k, s, p, d, o)
        out.append(o)
    return PoolSpec(dims, kind, tuple(input_shape), (*input_shape[:2], *out), kernel, stride, padding, dilation,
                    ceil_mode, count_include_pad, divisor)


def _check_windows_reach_input(axis: str, n: int, k: int, s: int, p: int, d: int, out: int) -> None:
    """A dilated window can step over the whole input and read only padding; torch then returns -inf."""
    for o in range(out):
        start = o * s - p
        if not any(0 <= start + t * d < n for t in range(k)):
            taps = ", ".join(str(start + t * d) for t in range(k))
            raise InvalidRequest(
                f"Max-pool window {o} on the {axis} axis reads only padding (positions {taps}; the input is 0 to "
                f"{n - 1}): with dilation {d} it steps over every real cell. Reduce the padding or the dilation (a "
                f"rule of convscope's own: torch returns −inf for such a window).", ["dilation"])


def check_unpool(input_shape: Sequence[int], indices_shape: Sequence[int] | None, params: dict[str, Any],
                 dims: int) -> PoolSpec:
    """max_unpool: output (i-1)s - 2p + k, or output_size strictly within one stride of it (torch's rule)."""
    kernel, stride, padding = _pool_common(input_shape, params, dims)
    if indices_shape is None:
        raise InvalidRequest("max_unpool needs indices: the argmax positions max_pool returned.", ["indices"])
    if tuple(indices_shape) != tuple(input_shape):
        raise InvalidRequest(
            f"indices must have the input's shape ({_shape_str(input_shape)}), got {_shape_str(indices_shape)}.",
            ["indices"])
    default = [unpool_default_length(i, k, s, p) for i, k, s, p in zip(input_shape[2:], kernel, stride, padding)]
    requested = params.get("output_size")
    if requested is None:
        size = default
        for axis, o in zip(_AXES[dims], size):
            if o < 1:
                raise InvalidRequest(f"The unpooled {axis} would be (i-1)s - 2p + k = {o}; reduce the padding.",
                                     ["padding"])
    else:
        if isinstance(requested, list) and len(requested) == dims + 2:
            requested = requested[2:]  # torch also accepts the full N, C, ... shape
        if not isinstance(requested, (list, tuple)) or len(requested) != dims:  # torch refuses any other
            raise InvalidRequest(f"output_size must be a list of {dims} or {dims + 2} integers, got {requested!r}.",
                                 ["output_size"])
        size = list(int_tuple(requested, dims, "output_size", minimum=1))
        for axis, o, dflt, s in zip(_AXES[dims], size, default, stride):
            if not dflt - s < o < dflt + s:
                raise InvalidRequest(
                    f"output_size's {axis} ({o}) must lie strictly between {dflt - s} and {dflt + s}: the default "
                    f"(i-1)s - 2p + k = {dflt}, give or take less than one stride ({s}).", ["output_size"])
    return PoolSpec(dims, "unpool", tuple(input_shape), (*input_shape[:2], *size), kernel, stride, padding,
                    (1,) * dims, False, True)


# ---------------------------------------------------------------- interpolate
INTERPOLATE_MODES = {1: ("nearest", "nearest-exact", "linear"), 2: ("nearest", "nearest-exact", "bilinear", "bicubic")}


@dataclass(frozen=True)
class InterpolateSpec:
    dims: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    mode: str
    align_corners: bool | None
    scale_factor: tuple[float, ...] | None
    size: tuple[int, ...] | None


def check_interpolate(input_shape: Sequence[int], params: dict[str, Any]) -> InterpolateSpec:
    """torch's interpolate: exactly one of size / scale_factor; output = floor(i · scale_factor)."""
    if len(input_shape) not in (3, 4):
        raise InvalidRequest(
            f"input must be rank 3 (N×C×L) or rank 4 (N×C×H×W) for interpolate, but it has rank {len(input_shape)}.",
            ["input"])
    dims = len(input_shape) - 2
    if any(v < 1 for v in input_shape):
        raise InvalidRequest(f"input has an empty dimension (shape {_shape_str(input_shape)}).", ["input"])
    mode = params.get("mode", "nearest")
    if mode not in INTERPOLATE_MODES[dims]:
        raise InvalidRequest(
            f"mode {mode!r} is not available for a {dims}-D input; choose one of "
            f"{', '.join(INTERPOLATE_MODES[dims])}.", ["mode"])
    align = params.get("align_corners")
    if align is not None:
        flag(align, "align_corners")
        if mode.startswith("nearest"):
            raise InvalidRequest(
                f"align_corners can only be set with the interpolating modes (linear, bilinear, bicubic), not "
                f"{mode!r}: nearest picks a cell, it does not place corners.", ["align_corners"])
    size, scale = params.get("size"), params.get("scale_factor")
    if (size is None) == (scale is None):
        raise InvalidRequest("Give exactly one of size and scale_factor.", ["size" if size is not None else "scale_factor"])
    if size is not None:
        if isinstance(size, (list, tuple)) and len(size) != dims:  # torch refuses it; int_tuple would repeat it
            raise InvalidRequest(f"size is {list(size)!r}, but the input has {dims} spatial axes: give one integer, "
                                 f"or a list of {dims}.", ["size"])
        sizes = int_tuple(size, dims, "size", minimum=1)
        return InterpolateSpec(dims, tuple(input_shape), (*input_shape[:2], *sizes), mode, align, None, sizes)
    scales = _float_tuple(scale, dims, "scale_factor")
    out = []
    for axis, i, f in zip(_AXES[dims], input_shape[2:], scales):
        o = math.floor(i * f)
        if o < 1:
            raise InvalidRequest(
                f"The {axis} output would be floor({i} × {f:g}) = {o}; scale_factor must keep at least one cell.",
                ["scale_factor"])
        out.append(o)
    return InterpolateSpec(dims, tuple(input_shape), (*input_shape[:2], *out), mode, align, scales, None)


def _float_tuple(value: Any, dims: int, name: str) -> tuple[float, ...]:
    def ok(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 < v <= 1e4

    if ok(value):
        return (float(value),) * dims
    if isinstance(value, (list, tuple)) and len(value) == dims and all(ok(v) for v in value):
        return tuple(float(v) for v in value)
    raise InvalidRequest(
        f"{name} must be a positive finite number (up to 10000) or a list of {dims} of them, got {value!r}.", [name])
