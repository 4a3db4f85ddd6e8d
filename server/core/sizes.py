"""The per-axis output-length formulas and the integer parameters every layer check reads (shapes.py's ground).

Written from torch.nn's documentation and Dumoulin & Visin (2016); shapes.py's docstring lists the formulas.
"""
from __future__ import annotations

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
