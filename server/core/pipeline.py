"""The image lab's pipeline: validate a small layer stack on shapes, run it in float32, encode every map.

Pure (no web framework): `plan_pipeline` checks every layer with server/core/shapes.py before
any tensor exists, so a bad stack costs nothing; `run_pipeline` then runs it on the given device
and returns uint8 display maps (server/core/encoding.py) for the input and each layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.core.exceptions import ConvscopeError, InvalidRequest
from server.core.encoding import ENCODINGS, encode_feature_maps
from server.core.kernels import (
    flip,
    get_kernel,
    groups_for,
    make_weight,
    validate_kernel,
)
from server.core.shapes import (
    check_conv,
    check_conv_transpose,
    check_interpolate,
    check_pool,
    check_unpool,
)

LAYER_OPS = ("conv2d", "conv_transpose2d", "relu", "batch_norm2d", "max_pool2d", "avg_pool2d",
             "max_unpool2d", "interpolate")
MAX_LAYERS = 12
MAX_CHANNELS = 64
MAX_ELEMENTS = 32 * 1024 * 1024  # per layer output (C·H·W float32 values: 128 MiB)
MAX_TOTAL_ELEMENTS = 96 * 1024 * 1024  # all layers together (the maps are kept until encoded)
_CONV = {"kernel", "seed", "kernel_size", "mode", "out_channels", "stride", "padding", "dilation", "true_convolution"}
_POOL = {"kernel_size", "stride", "padding", "ceil_mode"}
LAYER_KEYS: dict[str, set[str]] = {
    "conv2d": _CONV | {"padding_mode"}, "conv_transpose2d": _CONV | {"output_padding"}, "relu": set(),
    "batch_norm2d": {"training"}, "max_pool2d": _POOL | {"dilation"}, "avg_pool2d": _POOL | {"count_include_pad"},
    "max_unpool2d": {"from"}, "interpolate": {"size", "scale_factor", "mode", "align_corners"}}
DEFAULT_MAX_SIDE = 256
MAX_DISPLAY_SIDE = 1024


@dataclass
class PlannedLayer:
    index: int
    op: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    spec: Any = None
    weight: np.ndarray | None = None  # float32, ready for torch
    groups: int = 1
    params: dict[str, Any] = field(default_factory=dict)


def _fail(index: int, op: str, exc: ConvscopeError) -> ConvscopeError:
    exc.message = f"Layer {index} ({op}): {exc.message}"
    exc.loc = ["layers", index, *exc.loc]
    return exc


def _int(layer: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = layer.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}, not {v!r}.", [name])
    return v


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


def _conv_weight(layer: dict[str, Any], c_in: int, transposed: bool) -> tuple[np.ndarray, int]:
    """(float32 weight, groups). out_channels given -> a seeded random bank of that many filters."""
    mode = layer.get("mode", "per_channel")
    out_channels = layer.get("out_channels")
    k2 = _kernel_2d(layer)
    if out_channels is not None:
        out_channels = _int(layer, "out_channels", 1, 1, MAX_CHANNELS)
        kh, kw = k2.shape
        rng = np.random.default_rng(_int(layer, "seed", 0, 0, 2**32 - 1))
        if layer.get("kernel", "random") == "random":
            shape = (c_in, out_channels, kh, kw) if transposed else (out_channels, c_in, kh, kw)
            w = rng.standard_normal(shape) / np.sqrt(c_in * kh * kw)
        else:  # the same 2-D kernel on every (out, in) pair, scaled so it averages the inputs
            shape = (c_in, out_channels, kh, kw) if transposed else (out_channels, c_in, kh, kw)
            w = np.broadcast_to(k2 / c_in, shape).copy()
        return w.astype(np.float32), 1
    if layer.get("true_convolution", False):
        k2 = flip(k2)
    w = make_weight(k2, c_in, mode).numpy()
    groups = groups_for(mode, c_in)
    if transposed and mode == "shared":  # C_in × C_out/groups × k: shared 1×C×k -> C×1×k, groups 1
        w = np.ascontiguousarray(w.transpose(1, 0, 2, 3))
    return w.astype(np.float32), groups


_CONV_KEYS = ("stride", "padding", "dilation", "padding_mode", "output_padding")
_POOL_KEYS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad")


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
            raise _fail(i, op, InvalidRequest(f"the output {c}×{h}×{w} has more than {MAX_ELEMENTS:,} values."))
        total += c * h * w
        if total > MAX_TOTAL_ELEMENTS:
            raise _fail(i, op, InvalidRequest(f"the pipeline's maps up to here hold {total:,} values, more than "
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
        if spec.output_shape[1] > MAX_CHANNELS:
            raise InvalidRequest(f"it makes {spec.output_shape[1]} channels; at most {MAX_CHANNELS} are shown.",
                                 ["out_channels"])
        return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, weight, groups, params)
    if op in ("relu", "batch_norm2d"):
        return PlannedLayer(i, op, shape, shape, params={"training": bool(layer.get("training", True))})
    if op in ("max_pool2d", "avg_pool2d"):
        params = {k: layer[k] for k in _POOL_KEYS if k in layer}
        params.setdefault("kernel_size", 2)
        spec = check_pool(n_shape, params, 2, "max" if op == "max_pool2d" else "avg")
        return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, params=params)
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
        return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, params={**params, "from": src})
    params = {k: layer[k] for k in ("size", "scale_factor", "mode", "align_corners") if k in layer}
    spec = check_interpolate(n_shape, params)
    return PlannedLayer(i, op, shape, tuple(spec.output_shape[1:]), spec, params=params)


def check_display(max_side: Any, encoding: Any) -> tuple[int, str]:
    if isinstance(max_side, bool) or not isinstance(max_side, int) or not 1 <= max_side <= MAX_DISPLAY_SIDE:
        raise InvalidRequest(f"max_side must be an integer from 1 to {MAX_DISPLAY_SIDE}, not {max_side!r}.",
                             ["max_side"])
    if encoding not in ENCODINGS:
        raise InvalidRequest(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}.", ["encoding"])
    return max_side, encoding


def compute_pipeline(pixels: np.ndarray, planned: list[PlannedLayer], *, device: str = "cpu") -> list[Any]:
    """Run the planned stack in float32; returns the torch output (1×C×H×W, on device) of every layer."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.array(pixels, dtype=np.float32), device=device)[None]
    outs: list[Any] = []
    indices: dict[int, Any] = {}
    with torch.no_grad():
        for p in planned:
            if p.op in ("conv2d", "conv_transpose2d"):
                w = torch.as_tensor(p.weight, device=device)
                s = p.spec
                if p.op == "conv2d":
                    pad = [v for lo_hi in reversed(s.padding) for v in lo_hi]
                    if s.padding_mode != "zeros":
                        x = F.conv2d(F.pad(x, pad, mode=s.padding_mode), w, None, s.stride, 0, s.dilation, p.groups)
                    elif s.symmetric_padding is not None:
                        x = F.conv2d(x, w, None, s.stride, s.symmetric_padding, s.dilation, p.groups)
                    else:
                        x = F.conv2d(F.pad(x, pad), w, None, s.stride, 0, s.dilation, p.groups)
                else:
                    x = F.conv_transpose2d(x, w, None, s.stride, s.symmetric_padding, s.output_padding,
                                           p.groups, s.dilation)
            elif p.op == "relu":
                x = F.relu(x)
            elif p.op == "batch_norm2d":
                x = F.batch_norm(x, None, None, training=True) if p.params["training"] else x
            elif p.op == "max_pool2d":
                s = p.spec
                x, idx = F.max_pool2d(x, s.kernel, s.stride, s.padding, s.dilation, s.ceil_mode, return_indices=True)
                indices[p.index] = idx
            elif p.op == "avg_pool2d":
                s = p.spec
                x = F.avg_pool2d(x, s.kernel, s.stride, s.padding, s.ceil_mode, s.count_include_pad)
            elif p.op == "max_unpool2d":
                s = p.spec
                x = F.max_unpool2d(x, indices[p.params["from"]], s.kernel, s.stride, s.padding,
                                   output_size=list(s.output_shape[2:]))
            else:
                s = p.spec
                x = F.interpolate(x, size=s.size, scale_factor=s.scale_factor, mode=s.mode,
                                  align_corners=s.align_corners)
            outs.append(x)
    return outs


def run_pipeline(pixels: np.ndarray, layers: Any, *, max_side: int = DEFAULT_MAX_SIDE, encoding: str = "raw",
                 device: str = "cpu") -> dict[str, Any]:
    """Validate, run and encode; the JSON-ready body of POST /api/v1/pipeline (without "ok")."""
    max_side, encoding = check_display(max_side, encoding)
    planned = plan_pipeline(tuple(int(v) for v in pixels.shape), layers)
    outs = compute_pipeline(pixels, planned, device=device)
    result = []
    for p, out in zip(planned, outs):
        arr = out[0].float().cpu().numpy()
        maps = encode_feature_maps(arr, max_side=max_side, encoding=encoding)  # type: ignore[arg-type]
        result.append({"index": p.index, "op": p.op, "shape": list(p.output_shape),
                       "maps": [m.as_dict() for m in maps]})
    inp = encode_feature_maps(np.asarray(pixels), max_side=max_side, encoding=encoding)  # type: ignore[arg-type]
    c, h, w = pixels.shape
    return {"input": {"shape": [int(c), int(h), int(w)], "maps": [m.as_dict() for m in inp]},
            "layers": result, "device": str(device)}
