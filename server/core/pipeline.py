"""The image lab's pipeline, planned: a network of the layer registry's layers, checked on shapes and its
weights built, before any feature map.

A pipeline is a list of layer objects run on one image (C×H×W, float32 in [0, 1]). Every layer is a
registry layer (`GET /api/v1/layers`: torch.nn's arguments, `name`, `input`, and the merges `add` and
`concat`), checked by the registry's walk, plus the lab's conveniences, which become registry arguments
before the check:

    {"op": "conv2d", "kernel": "sobel_x", "mode": "per_channel", "padding": 1}
    {"op": "conv2d", "kernel": "random", "seed": 0, "out_channels": 16, "groups": 1, "kernel_size": 3}
    {"op": "batch_norm2d", "training": true}   {"op": "max_pool2d"}   {"op": "max_unpool2d", "from": 2}

Convolution weights come from a named or custom 2-D kernel: "per_channel" applies it to each channel
(depthwise, groups = C), "shared" applies it to the mean of the channels (one output). With
out_channels, the layer is a bank of that many filters over C/groups inputs each: seeded random
filters (kernel "random", the default when kernel_size is given without a kernel), or the named kernel
on every (output, input) pair. "true_convolution" flips the kernel (torch computes cross-correlation).
Lab convolutions have no bias. batch_norm2d normalises by the image's own statistics ("training",
default true) or by running_mean / running_var. max_unpool2d "from" names (by index or name) the
max_pool2d whose indices it uses; without it (and without kernel_size) the latest max_pool2d not yet
unpooled.
max_pool2d and avg_pool2d default to kernel_size 2. A linear layer gets seeded random weights (no bias).
Every lab parameter and lab default is in lab_table.py (published on GET /api/v1/layers).

A model (models/run.py) is planned into the same Plan, with its own weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convscope.core.exceptions import ConvscopeError, InvalidRequest, TooLarge, did_you_mean
from convscope.core.kernels import flip, get_kernel, groups_for, make_weight, validate_kernel
from convscope.core.lab_table import (BANK_KERNEL, DEFAULT_KERNEL, LAB_PARAMS, RANDOM_SIDE, SEED_MAX, lab_default,
                                      lab_meaning, lab_range)
from convscope.core.layers import LAYER_KEYS, Layer, is_int, walk

MAX_ELEMENTS = 32 * 1024 * 1024  # per layer output (C·H·W float32 values: 128 MiB)
MAX_TOTAL_ELEMENTS = 96 * 1024 * 1024  # all layers together: bounds the work of one request
MAX_MAPS = 128 * 1024  # channels over all layers, each one map in the response (ResNet-50: 93,058)
MAX_WEIGHTS = 160_000_000  # float32 values over all layers (VGG-16's 138 M fits)
MAX_MACS = 40_000_000_000  # multiply-accumulates of one run (VGG-16 at 224²: 15.5 G)


@dataclass
class Plan:
    """A checked network on one input shape, its weights (layer name → torch's parameter names) and how
    each batch norm and unpool runs."""

    input_shape: tuple[int, int, int]
    stack: list[Layer]
    network: list[dict[str, Any]]  # the same layers in the registry's form (/shapes, /receptive-field)
    weights: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    training: frozenset[int] = frozenset()  # batch_norm2d layers normalising by the image's statistics
    pairs: dict[int, int | None] | None = None  # max_unpool2d → its max_pool2d (None: the registry's rule)
    bn_given: dict[int, dict[str, Any]] = field(default_factory=dict)  # the lab's batch-norm settings
    weights_key: Any = None  # names weights that are the same from run to run (a model's), for caching


def _fail(index: int, op: str, exc: ConvscopeError) -> ConvscopeError:
    exc.message = f"Layer {index} ({op}): {exc.message}"
    exc.loc = ["layers", index, *exc.loc]
    return exc


def _int(layer: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = layer.get(name, default)
    if not is_int(v) or not lo <= v <= hi:
        raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}, not {v!r}.", [name])
    return v


def _flag(layer: dict[str, Any], name: str, default: bool) -> bool:
    v = layer.get(name, default)
    if not isinstance(v, bool):
        raise InvalidRequest(f"{name} must be true or false, not {v!r}.", [name])
    return v


def _seed(layer: dict[str, Any], op: str) -> int:
    return _int(layer, "seed", lab_default(op, "seed"), 0, SEED_MAX)


def _no_bias(layer: dict[str, Any], op: str) -> None:
    if layer.get("bias", False) is not False:
        raise InvalidRequest(f"bias must be false here, not {layer['bias']!r}: {lab_meaning(op, 'bias')}.",
                             ["bias"])


def _kernel_2d(layer: dict[str, Any], kind: str) -> np.ndarray:
    k = layer.get("kernel", kind)
    if isinstance(k, str):
        if k == "random":
            size = layer.get("kernel_size", RANDOM_SIDE)
            side = size[0] if isinstance(size, list) and size else size
            return get_kernel("random", {"seed": _seed(layer, "conv2d"),
                                         "size": side if is_int(side) else RANDOM_SIDE}, loc=["kernel"]).weights
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


def _check_weight_count(n: int) -> None:
    if n > MAX_WEIGHTS:
        raise TooLarge(f"its weights would hold {n:,} values, more than this server's cap of {MAX_WEIGHTS:,}.",
                       ["out_channels"])


def _bank(layer: dict[str, Any], kind: str, k2: np.ndarray, c_in: int, transposed: bool
          ) -> tuple[np.ndarray, int, int]:
    """out_channels filters over c_in / groups inputs each (conv), or c_in × out/groups (transposed)."""
    out = _int(layer, "out_channels", 1, 1, 1_000_000)
    groups = _int(layer, "groups", 1, 1, 1_000_000)
    if c_in % groups or out % groups:
        raise InvalidRequest(f"groups ({groups}) must divide both the input channels ({c_in}) and out_channels "
                             f"({out}): each group maps {c_in}/{groups} inputs to out_channels/{groups} outputs.",
                             ["groups"])
    kh, kw = k2.shape
    shape = (c_in, out // groups, kh, kw) if transposed else (out, c_in // groups, kh, kw)
    _check_weight_count(math.prod(shape))
    fan_in = (c_in // groups) * kh * kw
    if layer.get("kernel", kind) == "random":
        w = np.random.default_rng(_seed(layer, "conv2d")).standard_normal(shape) / np.sqrt(fan_in)
        if layer.get("true_convolution", lab_default("conv2d", "true_convolution")):
            w = w[..., ::-1, ::-1]
    else:  # the same 2-D kernel on every (out, in) pair, scaled so it averages its inputs
        w = np.broadcast_to(k2 / (c_in // groups), shape)
    return np.ascontiguousarray(w, dtype=np.float32), groups, out


def _conv(layer: dict[str, Any], c_in: int, transposed: bool) -> tuple[dict[str, Any], np.ndarray]:
    """The registry's arguments for a lab convolution, and its float32 weight."""
    flipped = _flag(layer, "true_convolution", lab_default("conv2d", "true_convolution"))
    _no_bias(layer, "conv2d")
    # a registry-style bank (kernel_size, no kernel) gets seeded random filters; else the identity kernel
    kind = BANK_KERNEL if "kernel" not in layer and "kernel_size" in layer else DEFAULT_KERNEL
    k2 = _kernel_2d(layer, kind)
    if flipped:
        k2 = flip(k2)
    if layer.get("out_channels") is not None:
        w, groups, out = _bank(layer, kind, k2, c_in, transposed)
    else:
        if "groups" in layer:
            raise InvalidRequest("groups applies to a filter bank: give out_channels too (without it, mode decides: "
                                 "per_channel is depthwise, groups = channels; shared is groups = 1).", ["groups"])
        mode = layer.get("mode", lab_default("conv2d", "mode"))
        w = make_weight(k2, c_in, mode).numpy().astype(np.float32)
        groups = groups_for(mode, c_in)
        if transposed and mode == "shared":  # C_in × C_out/groups × k: shared 1×C×k -> C×1×k, groups 1
            w = np.ascontiguousarray(w.transpose(1, 0, 2, 3))
        out = w.shape[1] * groups if transposed else w.shape[0]
    args = {k: v for k, v in layer.items() if k not in LAB_PARAMS["conv2d"]}
    args.update({"out_channels": out, "kernel_size": list(w.shape[2:]), "groups": groups, "bias": False})
    return args, w


def _linear(layer: dict[str, Any], f_in: int) -> tuple[dict[str, Any], np.ndarray]:
    """Seeded random weights out × in, scaled by 1/√in, and no bias."""
    _no_bias(layer, "linear")
    out = _int(layer, "out_features", 1, 1, 1_000_000)
    _check_weight_count(out * f_in)
    w = np.random.default_rng(_seed(layer, "linear")).standard_normal((out, f_in)) / np.sqrt(f_in)
    args = {k: v for k, v in layer.items() if k not in LAB_PARAMS["linear"]}
    args["bias"] = False
    return args, w.astype(np.float32)


def _batch_norm(layer: dict[str, Any], channels: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """training (default true: normalise by this image's statistics) and the running statistics eval mode
    uses (default mean 0, var 1: a freshly made BatchNorm2d)."""
    given: dict[str, Any] = {"training": _flag(layer, "training", lab_default("batch_norm2d", "training"))}
    for name in ("running_mean", "running_var"):
        lo, hi = lab_range("batch_norm2d", name)
        v = layer.get(name, lab_default("batch_norm2d", name))
        values = v if isinstance(v, list) else [v] * channels
        if len(values) != channels or not all(
                not isinstance(x, bool) and isinstance(x, (int, float)) and lo <= x <= hi for x in values):
            raise InvalidRequest(f"{name} must be a number or a list of {channels} numbers (one per channel) from "
                                 f"{lo:g} to {hi:g}, not {str(v)[:60]}.", [name])
        given[name] = [float(x) for x in values]
    return {k: v for k, v in layer.items() if k not in LAB_PARAMS["batch_norm2d"]}, given


def _unpool(i: int, layer: dict[str, Any], shape: tuple[int, ...], built: list[Layer]) -> tuple[dict[str, Any], int]:
    src = layer["from"]
    pools = [p for p in built if p.op == "max_pool2d"]
    pool = next((p for p in pools if (is_int(src) and p.index == src) or (isinstance(src, str) and p.name == src)),
                None)
    if pool is None:
        raise InvalidRequest(f"'from' must be the index or name of an earlier max_pool2d layer "
                             f"({', '.join(f'{p.index} ({p.name})' for p in pools) or 'there is none'}), "
                             f"not {src!r}.", ["from"])
    if tuple(shape) != tuple(pool.output_shape):
        raise InvalidRequest(f"its input {list(shape)} must have the shape of layer {pool.index}'s output "
                             f"{list(pool.output_shape)}, whose indices it uses.", ["from"])
    s = pool.spec
    args = {k: v for k, v in layer.items() if k != "from"}
    args.update({"kernel_size": list(s.kernel), "stride": list(s.stride), "padding": list(s.padding),
                 "output_size": list(pool.input_shape[1:])})
    return args, pool.index


class _Lab:
    """The registry walk's `prepare`: a lab layer in the registry's form, its weights kept aside."""

    def __init__(self) -> None:
        self.network: list[dict[str, Any]] = []
        self.weights: dict[int, np.ndarray] = {}
        self.bn: dict[int, dict[str, Any]] = {}
        self.pairs: dict[int, int] = {}

    def __call__(self, i: int, raw: dict[str, Any], shape: tuple[int, ...], built: list[Layer]) -> dict[str, Any]:
        op = raw["op"]
        takes = LAYER_KEYS[op] | LAB_PARAMS.get(op, frozenset())
        unknown = sorted(set(raw) - takes)
        if unknown:
            hint = did_you_mean(unknown[0], sorted(takes)) or f"it takes {', '.join(sorted(takes - {'op'}))}."
            raise InvalidRequest(f"Layer {i} ({op}): {unknown[0]!r} is not a parameter of {op}; {hint}",
                                 ["layers", i, unknown[0]])
        try:
            layer = self._translate(i, op, raw, shape, built)
        except ConvscopeError as exc:
            raise _fail(i, op, exc) from None
        self.network.append(layer)
        return layer

    def _translate(self, i: int, op: str, raw: dict[str, Any], shape: tuple[int, ...], built: list[Layer]
                   ) -> dict[str, Any]:
        c_in = shape[0]
        if op in ("conv2d", "conv_transpose2d"):
            if len(shape) != 3:
                return raw  # the registry explains
            args, self.weights[i] = _conv(raw, c_in, op == "conv_transpose2d")
            return args
        if op == "batch_norm2d" and len(shape) == 3:
            args, self.bn[i] = _batch_norm(raw, c_in)
            return args
        if op == "max_unpool2d" and ("from" in raw or "kernel_size" not in raw):
            if "from" not in raw:  # the latest max_pool2d not yet unpooled, as the registry pairs them
                taken = set(self.pairs.values())
                free = [p.index for p in built if p.op == "max_pool2d" and p.index not in taken]
                raw = {**raw, "from": free[-1] if free else None}
            args, self.pairs[i] = _unpool(i, raw, shape, built)
            return args
        if op in ("max_pool2d", "avg_pool2d") and "kernel_size" not in raw:
            return {**raw, "kernel_size": lab_default(op, "kernel_size")}
        if op == "linear" and shape and is_int(raw.get("out_features")):
            args, self.weights[i] = _linear(raw, shape[-1])
            return args
        return raw


def check_caps(stack: list[Layer], input_shape: tuple[int, ...]) -> None:
    """The work and memory one run may take, checked before any tensor is made."""
    total, maps = 0, input_shape[0]  # the input is not counted: it is held anyway
    macs = 0
    for layer in stack:
        n = math.prod(layer.output_shape)
        if n > MAX_ELEMENTS:
            raise _fail(layer.index, layer.op, TooLarge(
                f"the output {'×'.join(map(str, layer.output_shape))} has more than {MAX_ELEMENTS:,} values, this "
                "server's cap for one map stack."))
        total += n
        if total > MAX_TOTAL_ELEMENTS:
            raise _fail(layer.index, layer.op, TooLarge(
                f"the pipeline's maps up to here hold {total:,} values, more than {MAX_TOTAL_ELEMENTS:,}; use "
                "fewer channels or layers, or a smaller image side."))
        maps += layer.output_shape[0] if len(layer.output_shape) == 3 else 1
        if maps > MAX_MAPS:
            raise _fail(layer.index, layer.op, TooLarge(
                f"the pipeline's maps up to here number {maps:,} channels, more than the {MAX_MAPS:,} one response "
                "carries; use fewer channels or layers."))
        macs += layer.macs
        if macs > MAX_MACS:
            raise _fail(layer.index, layer.op, TooLarge(
                f"the pipeline up to here needs {macs:,} multiply-accumulates, more than this server's cap of "
                f"{MAX_MACS:,} for one run; use a smaller image side or fewer channels."))


def plan_pipeline(input_shape: tuple[int, int, int], layers: Any) -> Plan:
    """Check the network on shapes (the registry's walk) and build the lab's weights; every refusal names
    the layer's index and op."""
    lab = _Lab()
    stack = walk(list(input_shape), layers, prepare=lab)
    network = []
    it = iter(lab.network)
    for raw in layers:  # merges were not prepared: they pass as given
        network.append(raw if raw.get("op") in ("add", "concat") else next(it))
    check_caps(stack, input_shape)
    weights = {stack[i].name: {"weight": w} for i, w in lab.weights.items()}
    pairs = None
    if lab.pairs:
        from convscope.core.layers.forward import unpool_pairs
        pairs = {k: v for k, v in unpool_pairs(stack).items() if k not in lab.pairs} | lab.pairs
    training = frozenset(i for i, given in lab.bn.items() if given["training"])
    return Plan(tuple(input_shape), stack, network, weights, training, pairs, lab.bn)
