"""/pool's six panels from one request: max and average pooling of the input, max-unpooling of the max's output
by its indices, and upsampling of the max's output three ways (nearest, bilinear, bilinear with align_corners).

Each panel is exactly what POST /api/v1/ops/{op} answers for that op's body (run_op, the same checks and limits);
the page would otherwise wait for the max before it could ask for the rest. The max is the view: its refusal is
the request's. Any other panel's refusal is that panel's answer, in the error envelope's fields, and the others
are still drawn.
"""
from __future__ import annotations

from typing import Any

from .exceptions import ConvscopeError, InvalidRequest, unknown_parameter
from .limits import DEFAULT_LIMITS, Limits
from .ops import run_op

# The request's keys; each op gets those it takes (run_op checks them and writes the sentence).
POOL = ("kernel_size", "stride", "padding", "ceil_mode")
PARAMS = ("input", *POOL, "dilation", "count_include_pad", "scale_factor")
UPSAMPLE = {"nearest": {"mode": "nearest"}, "bilinear": {"mode": "bilinear", "align_corners": False},
            "bilinear_align_corners": {"mode": "bilinear", "align_corners": True}}
PANELS = ("max", "avg", "unpool", *UPSAMPLE)
TRACE = ["trace"]


def pool_view(body: dict[str, Any], *, limits: Limits = DEFAULT_LIMITS, device: str = "cpu") -> dict[str, Any]:
    """{panel: the op's answer, or {"status", "error", "errors"} where that op refused} for every panel, and
    "calls": {panel: {"op", and the parameters it was given}} (its tensors left out: the input, or the max's
    output and indices), which the page writes as PyTorch."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", [])
    for key in body:
        if key not in PARAMS:
            raise unknown_parameter("/views/pool", key, PARAMS, [key])
    common = {k: body[k] for k in POOL if k in body}
    x = body.get("input")
    calls: dict[str, dict[str, Any]] = {"max": {"op": "max_pool2d", **common, **_given(body, "dilation")}}
    maxed = _run(calls["max"], {"input": x}, limits, device)
    out: dict[str, Any] = {"max": maxed}
    calls["avg"] = {"op": "avg_pool2d", **common, **_given(body, "count_include_pad")}
    out["avg"] = _panel(calls["avg"], {"input": x}, limits, device)
    pooled = maxed["output"].tolist()  # as the page would send it back: the same values, exactly
    height, width = maxed["trace"]["input_shape"][2:]
    calls["unpool"] = {"op": "max_unpool2d", **_given(common, "kernel_size", "stride", "padding"),
                       "output_size": [height, width]}
    out["unpool"] = _panel(calls["unpool"], {"input": pooled, "indices": maxed["indices"].tolist()}, limits, device)
    for name, mode in UPSAMPLE.items():
        calls[name] = {"op": "interpolate", **_given(body, "scale_factor"), **mode}
        out[name] = _panel(calls[name], {"input": pooled}, limits, device)
    return {**out, "calls": calls}


def _given(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: body[k] for k in keys if k in body}


def _run(call: dict[str, Any], tensors: dict[str, Any], limits: Limits, device: str) -> dict[str, Any]:
    op, params = call["op"], {k: v for k, v in call.items() if k != "op"}
    return run_op(op, {**tensors, **params, "extras": TRACE}, limits=limits, device=device)


def _panel(call: dict[str, Any], tensors: dict[str, Any], limits: Limits, device: str) -> dict[str, Any]:
    try:
        return _run(call, tensors, limits, device)
    except ConvscopeError as exc:
        return {"status": exc.status, "error": exc.message, "errors": [{"loc": exc.loc, "msg": exc.message}]}
