"""Pooling, unpooling and interpolation checked on shapes alone, with PyTorch's exact rules (see shapes.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from .exceptions import InvalidRequest
from .sizes import (_AXES, _check_at_most, _is_int, _shape_str, check_rank, effective_kernel, flag, int_tuple,
                    pool_output_length, unpool_default_length)

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
