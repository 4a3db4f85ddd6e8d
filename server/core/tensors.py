"""Nested JSON arrays -> numpy arrays, refusing what torch must never see.

Ragged rows, strings, booleans, nulls, NaN/Inf and numbers too large to stay
finite through a convolution are refused with the path of the bad element.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import InvalidRequest
from .limits import check_cap

# Products and sums of values this size stay far from float64 overflow.
MAX_ABS = 1e100
# No op takes more than rank 4; a deeper nesting is refused before numpy (64 dims at most) or recursion sees it.
MAX_RANK = 8


def _walk_shape(value: Any, name: str, cap: int) -> tuple[int, ...]:
    """The shape of a rectangular nested list, checking every level and the leaf types."""
    shape: list[int] = []
    level = value
    while isinstance(level, list):
        if len(shape) == MAX_RANK:
            raise InvalidRequest(f"{name} nests lists more than {MAX_RANK} deep; a tensor here has at most "
                                 f"{MAX_RANK} dimensions (N×C×H×W is 4).", [name])
        if not level:
            raise InvalidRequest(f"{name} has an empty dimension (an empty list at depth {len(shape)}).", [name])
        shape.append(len(level))
        level = level[0]
    check_cap(int(np.prod(shape)) if shape else 1, cap, name, name, " (send a smaller tensor)")
    _check_level(value, shape, 0, name, [name])
    return tuple(shape)


def _check_level(value: Any, shape: list[int], depth: int, name: str, path: list[Any]) -> None:
    if depth == len(shape) - 1:
        kinds = {type(v) for v in value}
        if not kinds <= {int, float}:
            bad = next(v for v in value if type(v) not in (int, float))
            where = "[" + "][".join(str(p) for p in path[1:]) + "]" if len(path) > 1 else ""
            what = "a boolean" if isinstance(bad, bool) else "null" if bad is None else (
                "a list (the rows are ragged)" if isinstance(bad, list) else f"{type(bad).__name__} {bad!r}")
            raise InvalidRequest(f"{name}{where} holds {what}; every element must be a number.", path)
        return
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != shape[depth + 1]:
            got = len(row) if isinstance(row, list) else f"a scalar ({row!r})"
            raise InvalidRequest(
                f"{name} is ragged: {name}{''.join(f'[{p}]' for p in path[1:])}[{i}] has {got} entries where "
                f"{name}{''.join(f'[{p}]' for p in path[1:])}[0] has {shape[depth + 1]}.", path + [i])
        _check_level(row, shape, depth + 1, name, path + [i])


def parse_tensor(value: Any, name: str, *, cap: int) -> np.ndarray:
    """A float64 array from a nested list of finite numbers of magnitude <= 1e100."""
    if not isinstance(value, list):
        raise InvalidRequest(f"{name} must be a nested list of numbers (a tensor), got {type(value).__name__}.",
                             [name])
    _walk_shape(value, name, cap)
    try:
        array = np.array(value, dtype=np.float64)
    except OverflowError:
        raise InvalidRequest(f"{name} holds an integer too large for float64.", [name]) from None
    bad = ~np.isfinite(array) | (np.abs(array) > MAX_ABS)
    if bad.any():
        where = [int(i) for i in np.argwhere(bad)[0]]
        raise InvalidRequest(
            f"{name}{''.join(f'[{i}]' for i in where)} is {float(array[tuple(where)])!r}; values must be finite and at most "
            f"1e100 in magnitude.", [name, *where])
    return array


def parse_index_tensor(value: Any, name: str, *, cap: int) -> np.ndarray:
    """An int64 array from a nested list of integers (max_pool's indices)."""
    if not isinstance(value, list):
        raise InvalidRequest(f"{name} must be a nested list of integers, got {type(value).__name__}.", [name])
    _walk_shape(value, name, cap)
    array = np.array(value, dtype=object)
    flat = array.reshape(-1)
    for i, v in enumerate(flat):
        if not isinstance(v, int) or isinstance(v, bool):
            where = [int(j) for j in np.unravel_index(i, array.shape)]
            raise InvalidRequest(
                f"{name}{''.join(f'[{j}]' for j in where)} is {v!r}; indices must be whole numbers.", [name, *where])
        if not -(2**62) < v < 2**62:
            raise InvalidRequest(f"{name} holds {v}, far outside any valid index.", [name])
    return array.astype(np.int64)
