"""The shape arithmetic of one layer: each layer's output shape, parameters, MACs and size formula.

A stack is `input_shape` = [C, H, W] (no batch axis) and a list of layers, each the `torch.nn` module's
constructor arguments with `in_channels` / `in_features` / `num_features` inferred from the layer before:

    {"op": "conv2d", "out_channels": 96, "kernel_size": 11, "stride": 4}

Every size rule is `shapes.py`'s (PyTorch's, checked there against torch); this module only calls
`check_conv`, `check_conv_transpose`, `check_pool`, `check_unpool` and `check_interpolate` with
synthetic shapes (1 × C × H × W) and adds the layer's index to any refusal.

Counting conventions (what `params` and `macs` mean):
    params   learnable parameters, as `sum(p.numel() for p in module.parameters())`:
             conv2d            C_out · (C_in / G) · kH · kW  (+ C_out bias)       — G groups: G times fewer weights
             conv_transpose2d  C_in · (C_out / G) · kH · kW  (+ C_out bias)
             linear            in · out (+ out bias);   batch_norm2d 2C (γ and β; running stats are buffers)
    macs     multiply-accumulates of one forward pass, batch 1, bias additions not counted:
             conv2d            H_out · W_out · C_out · (C_in / G) · kH · kW
             conv_transpose2d  H_in · W_in · C_in · (C_out / G) · kH · kW   (every input cell scatters a kernel)
             linear            (leading cells) · in · out;   batch_norm2d C · H · W (one affine multiply-add each)
             pooling, unpooling, interpolate, activations, dropout, flatten, add, concat: 0
             (no learned multiplications)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .. import shapes
from ..exceptions import InvalidRequest

MAX_LAYERS = 512
MAX_SIZE = 1_000_000  # any integer argument, and every axis of every shape
MAX_COUNT = 10**18  # params and MACs of one layer: far past any real network, well inside JSON's int64

_NAME_PREFIX = {"conv2d": "conv", "conv_transpose2d": "convT", "max_pool2d": "pool", "avg_pool2d": "pool",
                "max_unpool2d": "unpool", "interpolate": "upsample", "relu": "relu", "batch_norm2d": "bn",
                "dropout": "dropout", "flatten": "flatten", "linear": "fc", "adaptive_avg_pool2d": "avgpool",
                "relu6": "relu", "leaky_relu": "lrelu", "sigmoid": "sigmoid", "tanh": "tanh", "add": "add",
                "concat": "cat"}
_LOC_RENAME = {"weight": "kernel_size", "input": None}


@dataclass(frozen=True)
class Layer:
    """One layer of a checked stack. Shapes have no batch axis: [C, H, W], or [F] after flatten."""

    index: int
    op: str
    name: str
    args: dict[str, Any]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    formula: str
    params_formula: str
    spec: Any = None  # shapes.ConvSpec | PoolSpec | InterpolateSpec for the spatial ops
    inputs: tuple[str, ...] = ()  # the names it reads ("input": the network's input)
    sources: tuple[int, ...] = ()  # their entries: 0 the input, k the output of layer k − 1

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "input_shape": list(self.input_shape),
                "output_shape": list(self.output_shape), "params": self.params, "macs": self.macs,
                "formula": self.formula, "params_formula": self.params_formula, "inputs": list(self.inputs)}


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(v) for v in shape)


def _size(v: Any) -> bool:
    return is_int(v) and 1 <= v <= MAX_SIZE


def size_pair(value: Any, name: str = "input_size") -> tuple[int, int]:
    """[H, W] (or one int for a square)."""
    if _size(value):
        return value, value
    if isinstance(value, list) and len(value) == 2 and all(_size(v) for v in value):
        return value[0], value[1]
    raise InvalidRequest(f"{name} must be [H, W], two integers from 1 to {MAX_SIZE:,}, got {value!r}.", [name])


def check_input_shape(value: Any, name: str = "input_shape") -> tuple[int, int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(_size(v) for v in value):
        raise InvalidRequest(f"{name} must be [C, H, W]: three integers from 1 to {MAX_SIZE:,} (no batch axis), "
                             f"got {value!r}.", [name])
    return tuple(value)  # type: ignore[return-value]


def _check_magnitudes(args: dict[str, Any]) -> None:
    """Arithmetic on shapes is cheap, but a 10^30 stride makes numbers no JSON reader can take."""
    for key, value in args.items():
        for v in value if isinstance(value, list) else [value]:
            if is_int(v) and abs(v) > MAX_SIZE:
                raise InvalidRequest(f"{key} ({v}) is past this server's limit of {MAX_SIZE:,}.", [key])


def _check_result(layer: Layer) -> None:
    if any(v > MAX_SIZE for v in layer.output_shape):
        raise InvalidRequest(f"the output would be {shape_text(layer.output_shape)}, past this server's limit of "
                             f"{MAX_SIZE:,} per axis.", [])
    if max(layer.params, layer.macs) > MAX_COUNT:
        raise InvalidRequest(f"the layer would have {layer.params:,} parameters and {layer.macs:,} "
                             f"multiply-accumulates, past this server's limit of 10^18.", [])


def _at_layer(i: int, op: str, shape: tuple[int, ...], exc: InvalidRequest) -> InvalidRequest:
    """The core's sentence, prefixed with the layer, and its loc moved under ["layers", i]."""
    loc: list[str | int] = ["layers", i]
    for part in exc.loc:
        renamed = _LOC_RENAME.get(part, part) if isinstance(part, str) else part
        if renamed is not None:
            loc.append(renamed)
    message = exc.message
    if message[:1].isupper() and message[1:2].islower():  # "The height window ..." -> "the height window ..."
        message = message[0].lower() + message[1:]
    return InvalidRequest(f"Layer {i} ({op}): its input is {shape_text(shape)}, and {message}", loc)


# ---------------------------------------------------------------- argument helpers
def _need_spatial(shape: tuple[int, ...], op: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise InvalidRequest(f"{op} needs a C×H×W input: after flatten there is no spatial grid.", [])
    return shape  # type: ignore[return-value]


def _positive(args: dict[str, Any], key: str, *, required: bool = True, default: int | None = None) -> int:
    if key not in args:
        if required:
            raise InvalidRequest(f"{key} is required.", [key])
        return default  # type: ignore[return-value]
    value = args[key]
    if not is_int(value) or value < 1:
        raise InvalidRequest(f"{key} must be a positive integer, got {value!r}.", [key])
    return value


def _inferred(args: dict[str, Any], key: str, actual: int, source: str) -> None:
    """in_channels / in_features / num_features may be given, but must agree with the layer before."""
    if key in args:
        given = _positive(args, key)
        if given != actual:
            raise InvalidRequest(f"{key} is {given}, but the layer before gives {actual} {source}.", [key])


def _number(args: dict[str, Any], key: str, default: float, lo: float, hi: float, what: str) -> float:
    value = args.get(key, default)
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not lo <= value <= hi):
        raise InvalidRequest(f"{key} must be {what}, got {value!r}.", [key])
    return float(value)


def _kernel(args: dict[str, Any]) -> tuple[int, int]:
    if "kernel_size" not in args:
        raise InvalidRequest("kernel_size is required.", ["kernel_size"])
    return shapes.int_tuple(args["kernel_size"], 2, "kernel_size", minimum=1)  # type: ignore[return-value]


def _pick(args: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: args[k] for k in keys if k in args}


def _both_axes(texts: Sequence[str]) -> str:
    return texts[0] if texts[0] == texts[1] else f"H: {texts[0]}; W: {texts[1]}"


# ---------------------------------------------------------------- the layers
def _conv(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    c, h, w = _need_spatial(shape, op)
    _inferred(args, "in_channels", c, "channels")
    out = _positive(args, "out_channels")
    kernel = _kernel(args)
    g = args.get("groups", 1)
    per_group = c // g if is_int(g) and g >= 1 else 1
    bias = shapes.flag(args.get("bias", True), "bias")
    spec = shapes.check_conv((1, c, h, w), (out, per_group, *kernel), None,
                             _pick(args, "stride", "padding", "dilation", "groups", "padding_mode"), 2)
    _, c_out, oh, ow = spec.output_shape
    texts = []
    for n, k, s, (lo, hi), d, o in zip((h, w), kernel, spec.stride, spec.padding, spec.dilation, (oh, ow)):
        pad = f"2·{lo}" if lo == hi else f"{lo} + {hi}"
        texts.append(f"⌊({n} + {pad} − {d}·({k}−1) − 1)/{s}⌋ + 1 = {o}")
    weights = out * per_group * kernel[0] * kernel[1]
    params = weights + (out if bias else 0)
    return Layer(i, op, name, args, shape, (c_out, oh, ow), params, oh * ow * weights, _both_axes(texts),
                 _params_text(out, c, spec.groups, kernel, bias, params), spec)


def _conv_transpose(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    c, h, w = _need_spatial(shape, op)
    _inferred(args, "in_channels", c, "channels")
    out = _positive(args, "out_channels")
    kernel = _kernel(args)
    (g,) = shapes.int_tuple(args.get("groups", 1), 1, "groups", minimum=1)
    if out % g:
        raise InvalidRequest(f"groups ({g}) must divide out_channels ({out}): each group makes out_channels / "
                             f"groups of the output maps.", ["groups"])
    bias = shapes.flag(args.get("bias", True), "bias")
    spec = shapes.check_conv_transpose((1, c, h, w), (c, out // g, *kernel), None,
                                       _pick(args, "stride", "padding", "output_padding", "dilation", "groups"), 2)
    _, c_out, oh, ow = spec.output_shape
    texts = [f"({n}−1)·{s} − 2·{p} + {d}·({k}−1) + {op_} + 1 = {o}"
             for n, k, s, (p, _), op_, d, o in zip((h, w), kernel, spec.stride, spec.padding, spec.output_padding,
                                                   spec.dilation, (oh, ow))]
    weights = c * (out // g) * kernel[0] * kernel[1]
    params = weights + (out if bias else 0)
    ptext = (f"{c}·({out}/{g})·{kernel[0]}·{kernel[1]}" if g > 1 else f"{c}·{out}·{kernel[0]}·{kernel[1]}")
    ptext += f" + {out}" if bias else ""
    return Layer(i, op, name, args, shape, (c_out, oh, ow), params, h * w * weights, _both_axes(texts),
                 f"{ptext} = {params:,}", spec)


def _params_text(out: int, c: int, g: int, kernel: Sequence[int], bias: bool, params: int) -> str:
    per = f"({c}/{g})" if g > 1 else f"{c}"
    return f"{out}·{per}·{kernel[0]}·{kernel[1]}" + (f" + {out}" if bias else "") + f" = {params:,}"


def _pool(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    c, h, w = _need_spatial(shape, op)
    if op == "max_pool2d":
        shapes.flag(args.get("return_indices", False), "return_indices")
        spec = shapes.check_pool((1, c, h, w), _pick(args, "kernel_size", "stride", "padding", "dilation",
                                                     "ceil_mode"), 2, "max")
    else:
        spec = shapes.check_pool((1, c, h, w), _pick(args, "kernel_size", "stride", "padding", "ceil_mode",
                                                     "count_include_pad", "divisor_override"), 2, "avg")
    _, _, oh, ow = spec.output_shape
    texts = []
    for n, k, s, p, d, o in zip((h, w), spec.kernel, spec.stride, spec.padding, spec.dilation, (oh, ow)):
        inner = f"({n} + 2·{p} − {d}·({k}−1) − 1)/{s}"
        if not spec.ceil_mode:
            texts.append(f"⌊{inner}⌋ + 1 = {o}")
        elif -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1 == o:
            texts.append(f"⌈{inner}⌉ + 1 = {o}")
        else:  # torch drops a last window that would start in the right padding
            texts.append(f"⌈{inner}⌉ + 1 − 1 = {o} (the last window would start in the padding)")
    return Layer(i, op, name, args, shape, (c, oh, ow), 0, 0, _both_axes(texts), "no parameters", spec)


def _unpool(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    c, h, w = _need_spatial(shape, op)
    spec = shapes.check_unpool((1, c, h, w), (1, c, h, w), _pick(args, "kernel_size", "stride", "padding",
                                                                 "output_size"), 2)
    _, _, oh, ow = spec.output_shape
    texts = []
    for n, k, s, p, o in zip((h, w), spec.kernel, spec.stride, spec.padding, (oh, ow)):
        default = shapes.unpool_default_length(n, k, s, p)
        rule = f"({n}−1)·{s} − 2·{p} + {k} = {default}"
        texts.append(rule if o == default else f"output_size {o} (the default would be {rule})")
    return Layer(i, op, name, args, shape, (c, oh, ow), 0, 0, _both_axes(texts), "no parameters", spec)


def _interpolate(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    c, h, w = _need_spatial(shape, op)
    spec = shapes.check_interpolate((1, c, h, w), _pick(args, "size", "scale_factor", "mode", "align_corners"))
    _, _, oh, ow = spec.output_shape
    if spec.size is not None:
        texts = [f"size = {o}" for o in (oh, ow)]
    else:
        texts = [f"⌊{n} × {f:g}⌋ = {o}" for n, f, o in zip((h, w), spec.scale_factor, (oh, ow))]
    return Layer(i, op, name, args, shape, (c, oh, ow), 0, 0, _both_axes(texts), "no parameters", spec)


def _adaptive(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    c, h, w = _need_spatial(shape, op)
    if "output_size" not in args:
        raise InvalidRequest("output_size is required.", ["output_size"])
    value = args["output_size"]
    pair = value if isinstance(value, list) and len(value) == 2 else [value, value]
    if not all(v is None or (is_int(v) and v >= 1) for v in pair):
        raise InvalidRequest(f"output_size must be a positive integer or a pair [h, w] (null keeps that axis), "
                             f"got {value!r}.", ["output_size"])
    oh, ow = (n if v is None else v for v, n in zip(pair, (h, w)))
    texts = [f"output_size = {o}" for o in (oh, ow)]
    return Layer(i, op, name, args, shape, (c, oh, ow), 0, 0, _both_axes(texts), "no parameters")


def _pass_through(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    shapes.flag(args.get("inplace", False), "inplace")
    if op == "dropout":
        _number(args, "p", 0.5, 0.0, 1.0, "a probability between 0 and 1")
    if op == "leaky_relu":
        _number(args, "negative_slope", 0.01, -1e6, 1e6, "a number from −10^6 to 10^6")
    return Layer(i, op, name, args, shape, shape, 0, 0, f"unchanged: {shape_text(shape)}", "no parameters")


def _batch_norm(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    c, h, w = _need_spatial(shape, op)
    _inferred(args, "num_features", c, "channels")
    _number(args, "eps", 1e-5, 1e-300, 1.0, "a small positive number")
    if args.get("momentum", 0.1) is not None:
        _number(args, "momentum", 0.1, 0.0, 1.0, "a number between 0 and 1, or null")
    affine = shapes.flag(args.get("affine", True), "affine")
    shapes.flag(args.get("track_running_stats", True), "track_running_stats")
    params = 2 * c if affine else 0
    ptext = f"2·{c} = {params:,} (γ and β)" if affine else "no parameters (affine=false)"
    return Layer(i, op, name, args, shape, shape, params, c * h * w, f"unchanged: {shape_text(shape)}", ptext)


def _flatten(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    rank = len(shape) + 1  # torch counts the batch axis: Flatten() is start_dim=1, end_dim=-1
    dims = []
    for key, default in (("start_dim", 1), ("end_dim", -1)):
        value = args.get(key, default)
        if not is_int(value) or not -rank <= value < rank:
            raise InvalidRequest(f"{key} must be an integer from {-rank} to {rank - 1} (the batch axis counts as "
                                 f"0), got {value!r}.", [key])
        dims.append(value % rank)
    start, end = dims
    if start == 0:
        raise InvalidRequest("start_dim 0 would fold the batch axis into the features; use start_dim=1 (the "
                             "default) to flatten each example.", ["start_dim"])
    if end < start:
        raise InvalidRequest(f"end_dim ({end}) must not come before start_dim ({start}).", ["end_dim"])
    merged = shape[start - 1:end]
    out = (*shape[:start - 1], math.prod(merged), *shape[end:])
    return Layer(i, op, name, args, shape, out, 0, 0, f"{'·'.join(map(str, merged))} = {math.prod(merged)}",
                 "no parameters")


def _linear(i: int, op: str, name: str, args: dict[str, Any], shape: tuple[int, ...]) -> Layer:
    n_in = shape[-1]
    if "in_features" in args:
        given = _positive(args, "in_features")
        if given != n_in:
            hint = (f"; {shape_text(shape)} holds {math.prod(shape)} values: put a flatten layer before it"
                    if len(shape) > 1 and given == math.prod(shape) else "")
            raise InvalidRequest(f"in_features is {given}, but linear acts on the last axis, which has {n_in} "
                                 f"values{hint}.", ["in_features"])
    out = _positive(args, "out_features")
    bias = shapes.flag(args.get("bias", True), "bias")
    params = n_in * out + (out if bias else 0)
    lead = math.prod(shape[:-1])
    formula = f"{n_in} → {out} features" if len(shape) == 1 else \
        f"acts on the last axis: {n_in} → {out}, for each of the {shape_text(shape[:-1])} leading cells"
    ptext = f"{n_in}·{out}" + (f" + {out}" if bias else "") + f" = {params:,}"
    return Layer(i, op, name, args, shape, (*shape[:-1], out), params, lead * n_in * out, formula, ptext)


BUILDERS: dict[str, Callable[[int, str, str, dict[str, Any], tuple[int, ...]], Layer]] = {
    "conv2d": _conv, "conv_transpose2d": _conv_transpose, "max_pool2d": _pool, "avg_pool2d": _pool,
    "max_unpool2d": _unpool, "interpolate": _interpolate, "relu": _pass_through, "dropout": _pass_through,
    "batch_norm2d": _batch_norm, "flatten": _flatten, "linear": _linear, "adaptive_avg_pool2d": _adaptive,
    "relu6": _pass_through, "leaky_relu": _pass_through, "sigmoid": _pass_through, "tanh": _pass_through,
}

