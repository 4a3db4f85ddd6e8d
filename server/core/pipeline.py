"""The image lab's pipeline, planned: every layer validated on shapes, its weights built, before any tensor.

A pipeline is a list of layer objects run on one image (C×H×W, float32 in [0, 1]):

    {"op": "conv2d", "kernel": "sobel_x", "mode": "per_channel", "padding": 1}
    {"op": "conv2d", "kernel": "random", "seed": 0, "out_channels": 16, "groups": 1, "kernel_size": 3}
    {"op": "relu"}   {"op": "batch_norm2d", "training": true}   {"op": "max_pool2d", "kernel_size": 2}
    {"op": "max_unpool2d", "from": 2}   {"op": "conv_transpose2d", ...}   {"op": "interpolate", ...}

Convolution weights come from a named or custom 2-D kernel: "per_channel" applies it to each channel
(depthwise, groups = C), "shared" applies it to the mean of the channels (one output). With
out_channels, the layer is a bank of that many filters over C/groups inputs each: seeded random
filters (kernel "random"), or the named kernel on every (output, input) pair. "true_convolution"
flips the kernel (torch computes cross-correlation). Every size rule is shapes.py's (PyTorch's).

`plan_pipeline` refuses a bad stack with a sentence naming the layer; pipeline_run.py runs the plan.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convscope.core.exceptions import ConvscopeError, InvalidRequest, TooLarge
from convscope.core.kernels import flip, get_kernel, groups_for, make_weight, validate_kernel
from convscope.core.shapes import check_conv, check_conv_transpose, check_interpolate, check_pool, check_unpool

LAYER_OPS = ("conv2d", "conv_transpose2d", "relu", "batch_norm2d", "max_pool2d", "avg_pool2d",
             "max_unpool2d", "interpolate", "relu6", "leaky_relu", "sigmoid", "tanh")
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh")
MAX_LAYERS = 12
MAX_CHANNELS = 64
MAX_ELEMENTS = 32 * 1024 * 1024  # per layer output (C·H·W float32 values: 128 MiB)
MAX_TOTAL_ELEMENTS = 96 * 1024 * 1024  # all layers together: bounds the work of one request
_CONV = {"kernel", "seed", "kernel_size", "mode", "out_channels", "groups", "stride", "padding", "dilation",
         "true_convolution"}
_POOL = {"kernel_size", "stride", "padding", "ceil_mode"}
LAYER_KEYS: dict[str, set[str]] = {
    "conv2d": _CONV | {"padding_mode"}, "conv_transpose2d": _CONV | {"output_padding"}, "relu": set(),
    "batch_norm2d": {"training", "eps", "momentum", "running_mean", "running_var"},
    "max_pool2d": _POOL | {"dilation"}, "avg_pool2d": _POOL | {"count_include_pad"},
    "max_unpool2d": {"from"}, "interpolate": {"size", "scale_factor", "mode", "align_corners"},
    "relu6": set(), "leaky_relu": {"negative_slope"}, "sigmoid": set(), "tanh": set()}
_CONV_KEYS = ("stride", "padding", "dilation", "padding_mode", "output_padding")
_POOL_KEYS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad")


@dataclass
class PlannedLayer:
    index: int
    op: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    spec: Any = None
    weight: np.ndarray | None = None  # float32, ready for torch
    params: dict[str, Any] = field(default_factory=dict)
    #: the same layer as a /shapes and /receptive-field stack layer (torch.nn constructor arguments)
    stack: dict[str, Any] = field(default_factory=dict)


def _fail(index: int, op: str, exc: ConvscopeError) -> ConvscopeError:
    exc.message = f"Layer {index} ({op}): {exc.message}"
    exc.loc = ["layers", index, *exc.loc]
    return exc


def _int(layer: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = layer.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}, not {v!r}.", [name])
    return v


def _flag(layer: dict[str, Any], name: str, default: bool) -> bool:
    v = layer.get(name, default)
    if not isinstance(v, bool):
        raise InvalidRequest(f"{name} must be true or false, not {v!r}.", [name])
    return v


def _number(layer: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    v = layer.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise InvalidRequest(f"{name} must be a number from {lo:g} to {hi:g}, not {v!r}.", [name])
    return float(v)


def _kernel_2d(layer: dict[str, Any]) -> np.ndarray:
    k = layer.get("kernel", "identity")
    if isinstance(k, str):
        if k == "random":
            return get_kernel("random", {"seed": _int(layer, "seed", 0, 0, 2**32 - 1),
                                         "size": _int(layer, "kernel_size", 3, 1, 11)}, loc=["kernel"]).weights
        return get_kernel(k, loc=["kernel"]).weights
    if isinstance(k, dict) and "custom" in k:
        return validate_kernel(k["custom"], loc=["kernel", "custom"])
    if isinstance(k, dict) and "name" in k:
        params = k.get("params") or {}
        if not isinstance(params, dict):
            raise InvalidRequest("kernel params must be an object.", ["kernel", "params"])
        return get_kernel(k["name"], params, loc=["kernel"]).weights
    if isinstance(k, list):
        return validate_kernel(k, loc=["kernel"])
    raise InvalidRequest('kernel must be a kernel name, {"name": ..., "params": {...}}, {"custom": [[...]]} '
                         'or "random" with a seed.', ["kernel"])


def _bank(layer: dict[str, Any], k2: np.ndarray, c_in: int, transposed: bool) -> tuple[np.ndarray, int]:
    """out_channels filters over c_in / groups inputs each (conv), or c_in × out/groups (transposed)."""
    out = _int(layer, "out_channels", 1, 1, MAX_CHANNELS)
    groups = _int(layer, "groups", 1, 1, MAX_CHANNELS)
    if c_in % groups or out % groups:
        raise InvalidRequest(f"groups ({groups}) must divide both the input channels ({c_in}) and out_channels "
                             f"({out}): each group maps {c_in}/{groups} inputs to out_channels/{groups} outputs.",
                             ["groups"])
    kh, kw = k2.shape
    shape = (c_in, out // groups, kh, kw) if transposed else (out, c_in // groups, kh, kw)
    fan_in = (c_in // groups) * kh * kw
    if layer.get("kernel", "identity") == "random":
        w = np.random.default_rng(_int(layer, "seed", 0, 0, 2**32 - 1)).standard_normal(shape) / np.sqrt(fan_in)
        if layer.get("true_convolution", False):
            w = w[..., ::-1, ::-1]
    else:  # the same 2-D kernel on every (out, in) pair, scaled so it averages its inputs
        w = np.broadcast_to(k2 / (c_in // groups), shape)
    return np.ascontiguousarray(w, dtype=np.float32), groups


def _conv_weight(layer: dict[str, Any], c_in: int, transposed: bool) -> tuple[np.ndarray, int]:
    """(float32 weight, groups)."""
    _flag(layer, "true_convolution", False)
    k2 = _kernel_2d(layer)
    if layer.get("true_convolution", False):
        k2 = flip(k2)
    if layer.get("out_channels") is not None:
        return _bank(layer, k2, c_in, transposed)
    if "groups" in layer:
        raise InvalidRequest("groups applies to a filter bank: give out_channels too (without it, mode decides: "
                             "per_channel is depthwise, groups = channels; shared is groups = 1).", ["groups"])
    mode = layer.get("mode", "per_channel")
    w = make_weight(k2, c_in, mode).numpy()
    groups = groups_for(mode, c_in)
    if transposed and mode == "shared":  # C_in × C_out/groups × k: shared 1×C×k -> C×1×k, groups 1
        w = np.ascontiguousarray(w.transpose(1, 0, 2, 3))
    return w.astype(np.float32), groups


def plan_pipeline(input_shape: tuple[int, int, int], layers: Any) -> list[PlannedLayer]:
    """Validate the stack on shapes only; every refusal names the layer's index and op."""
    if not isinstance(layers, list):
        raise InvalidRequest("layers must be a list of layer objects.", ["layers"])
    if len(layers) > MAX_LAYERS:
        raise InvalidRequest(f"The pipeline has {len(layers)} layers; at most {MAX_LAYERS} are allowed.", ["layers"])
    shape = tuple(input_shape)
    planned: list[PlannedLayer] = []
    total = 0
    for i, layer in enumerate(layers):
        op = layer.get("op") if isinstance(layer, dict) else None
        if op not in LAYER_OPS:
            raise InvalidRequest(f"Layer {i}: op must be one of {', '.join(LAYER_OPS)}, not {str(op)[:40]!r}.",
                                 ["layers", i, "op"])
        unknown = sorted(set(layer) - LAYER_KEYS[op] - {"op"})
        if unknown:
            takes = ", ".join(sorted(LAYER_KEYS[op])) or "no parameters"
            raise InvalidRequest(f"Layer {i} ({op}): {unknown[0]!r} is not a parameter of {op}; it takes {takes}.",
                                 ["layers", i, unknown[0]])
        try:
            p = _plan_one(i, op, layer, shape, planned)
        except ConvscopeError as exc:
            raise _fail(i, op, exc) from None
        c, h, w = p.output_shape
        if c * h * w > MAX_ELEMENTS:
            raise _fail(i, op, TooLarge(f"the output {c}×{h}×{w} has more than {MAX_ELEMENTS:,} values, this "
                                        "server's cap for one map stack."))
        total += c * h * w
        if total > MAX_TOTAL_ELEMENTS:
            raise _fail(i, op, TooLarge(f"the pipeline's maps up to here hold {total:,} values, more than "
                                        f"{MAX_TOTAL_ELEMENTS:,}; use fewer channels or layers."))
        planned.append(p)
        shape = p.output_shape
    return planned


def _plan_one(i: int, op: str, layer: dict[str, Any], shape: tuple, planned: list[PlannedLayer]) -> PlannedLayer:
    n_shape = (1, *shape)
    if op in ("conv2d", "conv_transpose2d"):
        transposed = op == "conv_transpose2d"
        weight, groups = _conv_weight(layer, shape[0], transposed)
        params = {k: layer[k] for k in _CONV_KEYS if k in layer}
        params["groups"] = groups
        check = check_conv_transpose if transposed else check_conv
        spec = check(n_shape, weight.shape, None, params, 2)
        c_out = spec.output_shape[1]
        if c_out > MAX_CHANNELS:
            raise InvalidRequest(f"it makes {c_out} channels; at most {MAX_CHANNELS} are shown.", ["out_channels"])
        stack = {"op": op, "out_channels": c_out, "kernel_size": list(spec.kernel), **params, "bias": False}
        return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, weight, params, stack)
    if op in ACTIVATIONS:
        slope = layer.get("negative_slope", 0.01)
        if op == "leaky_relu" and (isinstance(slope, bool) or not isinstance(slope, (int, float))
                                   or not -1e6 <= slope <= 1e6):
            raise InvalidRequest(f"negative_slope must be a number from −10^6 to 10^6, got {slope!r}.",
                                 ["negative_slope"])
        params = {"negative_slope": float(slope)} if op == "leaky_relu" else {}
        return PlannedLayer(i, op, shape, shape, params=params, stack={"op": op, **params})
    if op == "batch_norm2d":
        return PlannedLayer(i, op, shape, shape, params=_batch_norm_params(layer, shape[0]),
                            stack={"op": op})
    if op in ("max_pool2d", "avg_pool2d"):
        params = {k: layer[k] for k in _POOL_KEYS if k in layer}
        params.setdefault("kernel_size", 2)
        spec = check_pool(n_shape, params, 2, "max" if op == "max_pool2d" else "avg")
        return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, params=params,
                            stack={"op": op, **params})
    if op == "max_unpool2d":
        src = layer.get("from")
        if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < i or planned[src].op != "max_pool2d":
            pools = [p.index for p in planned if p.op == "max_pool2d"]
            raise InvalidRequest(f"'from' must be the index of an earlier max_pool2d layer "
                                 f"({', '.join(map(str, pools)) or 'there is none'}), not {src!r}.", ["from"])
        pool = planned[src]
        params = {"kernel_size": list(pool.spec.kernel), "stride": list(pool.spec.stride),
                  "padding": list(pool.spec.padding), "output_size": list(pool.input_shape[1:])}
        spec = check_unpool(n_shape, (1, *pool.output_shape), params, 2)
        if tuple(shape) != tuple(pool.output_shape):
            raise InvalidRequest(f"its input {list(shape)} must have the shape of layer {src}'s output "
                                 f"{list(pool.output_shape)}, whose indices it uses.", ["from"])
        return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, params={**params, "from": src},
                            stack={"op": op, **params})
    params = {k: layer[k] for k in ("size", "scale_factor", "mode", "align_corners") if k in layer}
    spec = check_interpolate(n_shape, params)
    return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, params=params, stack={"op": op, **params})


def _batch_norm_params(layer: dict[str, Any], channels: int) -> dict[str, Any]:
    """training (default true: normalise by this image's statistics), eps, momentum, and the running
    statistics eval mode uses (default mean 0, var 1: a freshly made BatchNorm2d)."""
    out: dict[str, Any] = {"training": _flag(layer, "training", True),
                           "eps": _number(layer, "eps", 1e-5, 1e-12, 1.0),
                           "momentum": _number(layer, "momentum", 0.1, 0.0, 1.0)}
    for name, default, lo in (("running_mean", 0.0, -1e6), ("running_var", 1.0, 0.0)):
        v = layer.get(name, default)
        values = v if isinstance(v, list) else [v] * channels
        if len(values) != channels or not all(
                not isinstance(x, bool) and isinstance(x, (int, float)) and lo <= x <= 1e6 for x in values):
            raise InvalidRequest(f"{name} must be a number or a list of {channels} numbers (one per channel) from "
                                 f"{lo:g} to 1e6, not {str(v)[:60]}.", [name])
        out[name] = [float(x) for x in values]
    return out
