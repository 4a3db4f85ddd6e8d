"""/backprop's backward pass from one request (POST /api/v1/views/backprop).

The page shows a gradient flowing back through conv2d or a pooling: its grad_output is a seeded tensor of small
integers shaped as the op's output, so before this it asked for the forward to learn that shape, then for the
backward. Here the output's shape is worked out by the op itself (run_op) and grad_output is drawn with the same
generator and order as the page's own example tensors (static/js/data.js: mulberry32, integers lo … hi, row-major),
so a link's seed gives the numbers it always gave. The backward is exactly what POST /api/v1/ops/{op} answers for
the body with that grad_output and the backward trace.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .exceptions import InvalidRequest, unknown_parameter
from .limits import DEFAULT_LIMITS, Limits
from .ops import OP_DEFS, run_op

OPS = ("conv2d", "max_pool2d", "avg_pool2d")
GRAD_RANGE = (-2, 2)  # grad_output's integers, as the page draws them
_MASK = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return (a * b) & _MASK  # Math.imul's low 32 bits (as unsigned: the same bits)


def rng(seed: int) -> Callable[[], float]:
    """mulberry32, as data.js's rng(seed) writes it: floats in [0, 1), in the same order, bit for bit."""
    state = (int(seed) & _MASK) or 1

    def next_value() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & _MASK
        t = _imul(state ^ (state >> 15), state | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & _MASK
        return ((t ^ (t >> 14)) & _MASK) / 4294967296

    return next_value


def random_tensor(shape: list[int], lo: int, hi: int, next_value: Callable[[], float]) -> Any:
    """A nested list of the given shape with integers in [lo, hi], as data.js's randomTensor draws them."""
    if not shape:
        return lo + math.floor(next_value() * (hi - lo + 1))
    return [random_tensor(shape[1:], lo, hi, next_value) for _ in range(shape[0])]


def backprop_view(body: dict[str, Any], *, limits: Limits = DEFAULT_LIMITS, device: str = "cpu") -> dict[str, Any]:
    """{"grad_output": the seeded tensor, "answer": what /ops/{op} answers for the body with it and extras
    ["backward_trace"]}. body: "op", "grad_seed" and the op's own parameters (its input, and weight and bias for
    conv2d); a refusal of the op is the request's."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", [])
    params = dict(body)
    op, seed = params.pop("op", None), params.pop("grad_seed", 0)
    if op not in OPS:
        raise InvalidRequest(f"op must be one of {', '.join(OPS)}, not {str(op)[:40]!r}.", ["op"])
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MASK:
        raise InvalidRequest(f"grad_seed must be an integer from 0 to {_MASK}, not {str(seed)[:40]!r}.", ["grad_seed"])
    for key in ("grad_output", "extras"):
        if key in params:
            raise InvalidRequest(f"{key} is the view's own: it draws grad_output from grad_seed and asks for the "
                                 "backward trace.", [key])
    takes = (OP_DEFS[op].params - {"grad_output", "extras"}) | {"op", "grad_seed"}
    if extra := sorted(set(body) - takes):  # the view's own keys are suggested too, not only the op's
        raise unknown_parameter(f"The backprop view of {op}", extra[0], takes, [extra[0]])
    shape = run_op(op, params, limits=limits, device=device)["shape"]
    draw = rng(seed)
    grad = [[random_tensor(list(shape[2:]), *GRAD_RANGE, draw) for _ in range(shape[1])] for _ in range(shape[0])]
    answer = run_op(op, {**params, "grad_output": grad, "extras": ["backward_trace"]}, limits=limits, device=device)
    return {"grad_output": grad, "answer": answer}
