"""The torch calls, forward and backward, for every op of the v1 API.

`run_op(op, body)` takes the API's JSON body as a dict (nested lists, torch's
parameter names and defaults), validates all of it with `shapes` before any
tensor is made, runs the real `torch.nn.functional` op (through the layer
registry's spec-level calls, layers/forward.py), and returns numpy arrays. Graded numbers are float64 on the CPU unless the body asks otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from . import backward_trace, geometry, matrices, shapes
from .exceptions import InvalidRequest, NotFound, did_you_mean, unknown_parameter
from .layers.forward import (avg_pool_forward, conv_forward, conv_transpose_forward, interpolate_forward,  # noqa: F401
                             max_pool_forward, max_unpool_forward, pad_input)
from .limits import DEFAULT_LIMITS, Limits, check_cap, numel
from .tensors import parse_index_tensor, parse_tensor

EXTRAS = ("trace", "im2col", "toeplitz", "backward_trace")
_COMMON = {"input", "grad_output", "extras", "dtype", "device"}
_CONV = {"weight", "bias", "stride", "padding", "dilation", "groups"}


@dataclass(frozen=True)
class OpDef:
    dims: int
    family: str  # conv | conv_transpose | max_pool | avg_pool | max_unpool | interpolate
    params: frozenset[str]


def _def(dims: int, family: str, extra: set[str]) -> OpDef:
    return OpDef(dims, family, frozenset(_COMMON | extra))


_POOL = {"kernel_size", "stride", "padding", "ceil_mode"}
OP_DEFS: dict[str, OpDef] = {}
for _d in (1, 2):
    OP_DEFS[f"conv{_d}d"] = _def(_d, "conv", _CONV | {"padding_mode"})
    OP_DEFS[f"conv_transpose{_d}d"] = _def(_d, "conv_transpose", _CONV | {"output_padding"})
    OP_DEFS[f"max_pool{_d}d"] = _def(_d, "max_pool", _POOL | {"dilation"})
    OP_DEFS[f"avg_pool{_d}d"] = _def(_d, "avg_pool", _POOL | {"count_include_pad", "divisor_override"})
    OP_DEFS[f"max_unpool{_d}d"] = _def(_d, "max_unpool", {"indices", "kernel_size", "stride", "padding", "output_size"})
OP_DEFS["interpolate"] = _def(0, "interpolate", {"size", "scale_factor", "mode", "align_corners"})
OPS: tuple[str, ...] = tuple(OP_DEFS)


def _check_keys(op: str, body: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in body:
        if key not in allowed:
            raise unknown_parameter(op, key, allowed, [key], listed=op)


def _device_dtype(body: dict[str, Any], server_device: str) -> tuple[torch.device, torch.dtype]:
    dtype_name = body.get("dtype", "float64")
    if dtype_name not in ("float64", "float32"):
        raise InvalidRequest(f"dtype must be 'float64' or 'float32', got {dtype_name!r}.", ["dtype"])
    wanted = body.get("device", "cpu")
    if wanted not in ("cpu", "cuda"):
        raise InvalidRequest(f"device must be 'cpu' or 'cuda', got {wanted!r}.", ["device"])
    if wanted == "cuda" and not server_device.startswith("cuda"):
        raise InvalidRequest(f"device 'cuda' was asked for, but this server computes on {server_device}.", ["device"])
    device = torch.device(server_device if wanted == "cuda" else "cpu")
    return device, torch.float64 if dtype_name == "float64" else torch.float32


def _extras(body: dict[str, Any]) -> tuple[str, ...]:
    extras = body.get("extras") or []
    if not isinstance(extras, list) or any(e not in EXTRAS for e in extras):
        raise InvalidRequest(f"extras must be a list drawn from {', '.join(EXTRAS)}, got {extras!r}.", ["extras"])
    return tuple(dict.fromkeys(extras))


def run_op(op: str, body: dict[str, Any], *, limits: Limits = DEFAULT_LIMITS, device: str = "cpu") -> dict[str, Any]:
    """Validate, run and return one op: output, shape, and what `grad_output`/`extras` ask for."""
    if op not in OP_DEFS:
        hint = did_you_mean(op, OPS, sentence=True)
        raise NotFound(f"There is no op {op!r}.{hint} The ops are: {', '.join(OPS)}.", ["op"])
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", [])
    opdef = OP_DEFS[op]
    _check_keys(op, body, opdef.params)
    dev, dtype = _device_dtype(body, device)
    extras = _extras(body)
    if "input" not in body:
        raise InvalidRequest(f"{op} needs an input tensor.", ["input"])
    x = parse_tensor(body["input"], "input", cap=limits.max_input_elements)
    plan = _PLANNERS[opdef.family](op, opdef, x, body, limits)
    check_cap(numel(plan.output_shape), limits.max_output_elements, "The output", "input",
              " (use a smaller input or a larger stride)")
    grad_output = None
    if body.get("grad_output") is not None:
        grad_output = parse_tensor(body["grad_output"], "grad_output", cap=limits.max_output_elements)
        if grad_output.shape != tuple(plan.output_shape):
            raise InvalidRequest(
                f"grad_output must have the output's shape {list(plan.output_shape)}, got {list(grad_output.shape)}.",
                ["grad_output"])
    for extra in extras:
        if extra == "backward_trace":
            backward_trace.check(op, opdef.family, plan.spec, grad_output is not None, plan.output_shape, limits)
        else:
            matrices.check_extra(extra, op, opdef.family, plan.spec, x.shape, plan.output_shape, limits)

    tensors = _to_torch(plan.tensors, dtype, dev)
    tx = torch.as_tensor(x, dtype=dtype, device=dev)
    if grad_output is not None:
        tx.requires_grad_(True)
        for name in ("weight", "bias"):
            if name in tensors:
                tensors[name].requires_grad_(True)
    result: dict[str, Any] = {"op": op}
    with torch.set_grad_enabled(grad_output is not None):
        out = plan.forward(tx, **tensors)
        indices = None
        if isinstance(out, tuple):
            out, indices = out
        result["output"] = _np(out)
        result["shape"] = list(out.shape)
        if indices is not None:
            result["indices"] = indices.detach().cpu().numpy().astype(np.int64)
        if grad_output is not None:
            out.backward(torch.as_tensor(grad_output, dtype=dtype, device=dev))
            result["grad_input"] = _np(tx.grad)
            for name in ("weight", "bias"):
                if name in tensors:
                    result[f"grad_{name}"] = _np(tensors[name].grad)
    if dtype == torch.float32:
        _check_float32_finite(result)
    for extra in extras:
        if extra == "backward_trace":
            result[extra] = backward_trace.backward_trace(op, opdef.family, plan.spec, x, plan.tensors, result,
                                                          grad_output)
        else:
            result[extra] = _run_extra(extra, op, opdef, plan, x, result, dtype)
    return result


def _check_float32_finite(result: dict[str, Any]) -> None:
    """Values up to 1e100 stay finite in float64, but float32 overflows past about 3.4e38: refuse, not null."""
    for name in ("output", "grad_input", "grad_weight", "grad_bias"):
        values = result.get(name)
        if values is None or np.isfinite(values).all():
            continue
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise InvalidRequest(
            f"The float32 result overflows: {name}{''.join(f'[{i}]' for i in where)} is {float(values[where])!r}, "
            f"past float32's largest value (about 3.4e38). Use dtype 'float64' (the default) or smaller values.",
            ["dtype"])


def _to_torch(arrays: dict[str, np.ndarray], dtype: torch.dtype, dev: torch.device) -> dict[str, torch.Tensor]:
    """Tensors on the compute device; max_unpool's indices stay int64."""
    return {n: torch.as_tensor(a, dtype=torch.long if n == "indices" else dtype, device=dev) for n, a in arrays.items()}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def _run_extra(extra: str, op: str, opdef: OpDef, plan: "_Plan", x: np.ndarray, result: dict[str, Any],
               dtype: torch.dtype) -> Any:
    if extra == "toeplitz" and opdef.family == "max_unpool":
        return matrices.unpool_toeplitz(plan.tensors["indices"], x.shape, plan.output_shape)
    if extra == "toeplitz":
        # The op is linear in its input (max_pool: piecewise, around this input), so its Jacobian is C.
        tensors = _to_torch({n: a for n, a in plan.tensors.items() if n != "bias"}, torch.float64, torch.device("cpu"))

        def f(t: torch.Tensor) -> torch.Tensor:
            out = plan.forward(t, **tensors)
            return out[0] if isinstance(out, tuple) else out

        return matrices.toeplitz(f, x)
    if extra == "im2col":
        return matrices.im2col(x, plan.spec)
    return geometry.trace(op, opdef.family, plan.spec, x, plan.tensors, result)


# ---------------------------------------------------------------- planners: validate, then say how to run
@dataclass
class _Plan:
    spec: Any
    output_shape: tuple[int, ...]
    tensors: dict[str, np.ndarray]
    forward: Callable[..., Any]


def _plan_conv(op: str, opdef: OpDef, x: np.ndarray, body: dict[str, Any], limits: Limits) -> _Plan:
    if "weight" not in body:
        raise InvalidRequest(f"{op} needs a weight tensor.", ["weight"])
    w = parse_tensor(body["weight"], "weight", cap=limits.max_input_elements)
    b = parse_tensor(body["bias"], "bias", cap=limits.max_input_elements) if body.get("bias") is not None else None
    bias_shape = None if b is None else b.shape
    tensors = {"weight": w} | ({"bias": b} if b is not None else {})
    if opdef.family == "conv":
        spec = shapes.check_conv(x.shape, w.shape, bias_shape, body, opdef.dims)
        return _Plan(spec, spec.output_shape, tensors, lambda t, weight, bias=None: conv_forward(spec, t, weight, bias))
    spec = shapes.check_conv_transpose(x.shape, w.shape, bias_shape, body, opdef.dims)
    return _Plan(spec, spec.output_shape, tensors,
                 lambda t, weight, bias=None: conv_transpose_forward(spec, t, weight, bias))


def _plan_pool(op: str, opdef: OpDef, x: np.ndarray, body: dict[str, Any], limits: Limits) -> _Plan:
    kind = "max" if opdef.family == "max_pool" else "avg"
    spec = shapes.check_pool(x.shape, body, opdef.dims, kind)
    if kind == "max":
        return _Plan(spec, spec.output_shape, {}, lambda t: max_pool_forward(spec, t, return_indices=True))
    return _Plan(spec, spec.output_shape, {}, lambda t: avg_pool_forward(spec, t))


def _plan_unpool(op: str, opdef: OpDef, x: np.ndarray, body: dict[str, Any], limits: Limits) -> _Plan:
    if body.get("indices") is None:
        raise InvalidRequest("max_unpool needs indices: the argmax positions max_pool returned.", ["indices"])
    idx = parse_index_tensor(body["indices"], "indices", cap=limits.max_input_elements)
    spec = shapes.check_unpool(x.shape, idx.shape, body, opdef.dims)
    _check_unpool_indices(x, idx, spec)
    return _Plan(spec, spec.output_shape, {"indices": idx}, lambda t, indices: max_unpool_forward(spec, t, indices))


def _check_unpool_indices(x: np.ndarray, idx: np.ndarray, spec: shapes.PoolSpec) -> None:
    plane = numel(spec.output_shape[2:])
    bad = (idx < 0) | (idx >= plane)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidRequest(
            f"indices{''.join(f'[{i}]' for i in where)} is {int(idx[where])}, outside the unpooled plane of "
            f"{'×'.join(map(str, spec.output_shape[2:]))} = {plane} cells (valid: 0 to {plane - 1}).",
            ["indices", *where])
    # Two different values sent to one cell: torch leaves the winner undefined, so a graded answer can't exist.
    flat_x = x.reshape(x.shape[0] * x.shape[1], -1)
    flat_i = idx.reshape(flat_x.shape)
    for plane_no, (vals, ids) in enumerate(zip(flat_x, flat_i)):
        order = np.argsort(ids, kind="stable")
        same = ids[order][1:] == ids[order][:-1]
        if (same & (vals[order][1:] != vals[order][:-1])).any():
            cell = int(ids[order][1:][same & (vals[order][1:] != vals[order][:-1])][0])
            n, c = divmod(plane_no, x.shape[1])
            raise InvalidRequest(
                f"indices send two different values to cell {cell} of plane (n={n}, c={c}); max_unpool would keep "
                f"an arbitrary one. Each index may repeat only with equal values (as overlapping max-pool windows "
                f"produce).", ["indices"])


def _plan_interpolate(op: str, opdef: OpDef, x: np.ndarray, body: dict[str, Any], limits: Limits) -> _Plan:
    spec = shapes.check_interpolate(x.shape, body)
    return _Plan(spec, spec.output_shape, {}, lambda t: interpolate_forward(spec, t))


_PLANNERS = {"conv": _plan_conv, "conv_transpose": _plan_conv, "max_pool": _plan_pool, "avg_pool": _plan_pool,
             "max_unpool": _plan_unpool, "interpolate": _plan_interpolate}
