"""Exercise generators whose answers are sizes and counts: output shapes of conv2d and conv_transpose2d,
receptive fields, parameter counts. (Value exercises live in exercise_values.py.)

A generator takes a seeded random.Random and a difficulty and returns a Problem: a prompt, `given` data in
the API's own forms (a layer in /shapes form, a stack as the body of /receptive-field), the answer format,
a solver, and the common mistakes with the sentence that explains each.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from . import layers as layers_mod
from . import receptive, shapes
from .exceptions import InvalidRequest

SHAPE_FORMAT = {"type": "shape", "length": 4, "layout": "[N, C, H, W]", "names": ["N", "C", "H", "W"]}


@dataclass
class Mistake:
    """A common wrong computation: the answer it gives (or only its shape) and the sentence that explains it."""

    sentence: str
    value: Any = None
    shape: tuple[int, ...] | None = None
    field: str | None = None


@dataclass
class Problem:
    """What a generator returns: text and data for the student, and how to solve and mis-solve it."""

    title: str
    prompt: str
    given: dict[str, Any]
    answer_format: dict[str, Any]
    solve: Callable[[], Any]
    mistakes: Callable[[], list[Mistake]] = field(default=list)


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    description: str
    answer: str
    difficulties: dict[int, str]
    generate: Callable[[random.Random, int], Problem]


def pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def args_text(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items() if k not in ("op", "name"))


def distinct(mistakes: list[Mistake], expected: Any) -> list[Mistake]:
    """Drop mistakes that give the right answer here, or the same answer as an earlier one."""
    seen: list[Any] = [expected]
    out = []
    for m in mistakes:
        if m.value is not None and any(_same(m.value, s) for s in seen):
            continue
        seen.append(m.value)
        out.append(m)
    return out


def _same(a: Any, b: Any) -> bool:
    try:
        return a == b if not hasattr(a, "shape") else (a.shape == getattr(b, "shape", None) and (a == b).all())
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- conv_output_shape
def conv_length(n: int, k: int, s: int, p: int, d: int, *, ceil: bool = False, pad_once: bool = False,
                plus_one: bool = True) -> int:
    span = n + (p if pad_once else 2 * p) - d * (k - 1) - 1
    return (-(-span // s) if ceil else span // s) + (1 if plus_one else 0)


def _conv_shape(rng: random.Random, difficulty: int) -> Problem:
    while True:
        n = 1 if difficulty == 1 else rng.choice([1, 2, 4, 8])
        g = 1 if difficulty < 3 else rng.choice([1, 2, 4])
        c_in = rng.choice([1, 3]) if difficulty == 1 else g * rng.choice([1, 3, 4, 8, 16])
        out = g * rng.choice([4, 8, 16, 32])
        if difficulty == 1:
            h = w = rng.randint(5, 32)
            k, s, p, d = rng.choice([1, 3, 5]), rng.choice([1, 2]), rng.randint(0, 2), 1
        elif difficulty == 2:
            h, w = rng.randint(7, 64), rng.randint(7, 64)
            k, s, p, d = rng.choice([3, 5, 7]), rng.choice([2, 3]), rng.randint(0, 3), 1
        else:
            h, w = rng.randint(9, 96), rng.randint(9, 96)
            k = [rng.choice([1, 3, 5, 7]), rng.choice([3, 5])]
            s = [rng.choice([1, 2, 3]), rng.choice([2, 3])]
            p, d = [rng.randint(0, 3), rng.randint(0, 3)], rng.choice([2, 3])
        layer = {"op": "conv2d", "in_channels": c_in, "out_channels": out, "kernel_size": k, "stride": s,
                 "padding": p, "dilation": d, "groups": g}
        try:
            spec = shapes.check_conv((n, c_in, h, w), (out, c_in // g, *pair(k)), None, layer, 2)
        except InvalidRequest:
            continue
        exact = all((i + 2 * pp - d * (kk - 1) - 1) % ss == 0 for i, kk, ss, pp in zip((h, w), pair(k), pair(s),
                                                                                           pair(p)))
        if difficulty == 1 or not exact:
            break
    expected = list(spec.output_shape)
    axes = list(zip((h, w), pair(k), pair(s), pair(p)))

    def variant(**kw: Any) -> list[int]:
        dd = kw.pop("d", d)
        return [n, kw.pop("c", out), *(conv_length(i, kk, ss, pp, dd, **kw) for i, kk, ss, pp in axes)]

    def mistakes() -> list[Mistake]:
        return distinct([
            Mistake("You rounded the division up; PyTorch floors ⌊(n + 2p − d(k−1) − 1)/s⌋: a window that would run "
                    "past the padded input is dropped.", variant(ceil=True)),
            Mistake(f"You left out the dilation: a kernel dilated by d = {d} spans d(k−1)+1 cells, so the formula "
                    f"subtracts d(k−1).", variant(d=1)),
            Mistake("You added the padding once; it goes on both sides: n + 2p.", variant(pad_once=True)),
            Mistake("You left out the + 1: the count of window positions is ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1.",
                    variant(plus_one=False)),
            Mistake("The output has out_channels channels, one per filter, not the input's channel count.",
                    variant(c=c_in)),
        ], expected)

    layer_args = {k_: v for k_, v in layer.items() if k_ != "op"}
    prompt = (f"A conv2d layer ({args_text(layer_args)}) receives an input of shape N×C×H×W = "
              f"{n}×{c_in}×{h}×{w}. What is the shape of its output? Answer [N, C, H, W].")
    return Problem("Output shape of a convolution", prompt, {"input_shape": [n, c_in, h, w], "layer": layer},
                   SHAPE_FORMAT, lambda: expected, mistakes)


# ---------------------------------------------------------------- conv_transpose_output_shape
def _transpose_shape(rng: random.Random, difficulty: int) -> Problem:
    while True:
        n = 1 if difficulty == 1 else rng.choice([1, 2, 4])
        g = 1 if difficulty < 3 else rng.choice([1, 2])
        c_in, out = g * rng.choice([4, 8, 16]), g * rng.choice([1, 3, 8])
        if difficulty == 1:
            h = w = rng.randint(2, 16)
            k, s, p, op, d = rng.choice([2, 3, 4]), 2, rng.randint(0, 1), 0, 1
        elif difficulty == 2:
            h, w = rng.randint(2, 32), rng.randint(2, 32)
            s = rng.choice([2, 3])
            k, p, op, d = rng.choice([3, 4, 5]), rng.randint(0, 2), rng.randint(1, s - 1), 1
        else:
            h, w = rng.randint(3, 32), rng.randint(3, 32)
            k, s, d = [rng.choice([2, 3, 5]), rng.choice([3, 4])], [rng.choice([2, 3]), 2], 2
            p, op = [rng.randint(0, 2), rng.randint(0, 2)], [rng.randint(0, 1), rng.randint(1, 1)]
        layer = {"op": "conv_transpose2d", "in_channels": c_in, "out_channels": out, "kernel_size": k,
                 "stride": s, "padding": p, "output_padding": op, "dilation": d, "groups": g}
        try:
            spec = shapes.check_conv_transpose((n, c_in, h, w), (c_in, out // g, *pair(k)), None, layer, 2)
        except InvalidRequest:
            continue
        break
    expected = list(spec.output_shape)
    axes = list(zip((h, w), pair(k), pair(s), pair(p), pair(op)))

    def variant(f: Callable[..., int], c: int = out) -> list[int]:
        return [n, c, *(f(i, kk, ss, pp, oo) for i, kk, ss, pp, oo in axes)]

    def mistakes() -> list[Mistake]:
        return distinct([
            Mistake("You left out output_padding: it adds that many rows and columns at the bottom and right.",
                    variant(lambda i, k_, s_, p_, o: (i - 1) * s_ - 2 * p_ + d * (k_ - 1) + 1)),
            Mistake(f"You left out the dilation: the kernel spans d(k−1)+1 cells with d = {d}.",
                    variant(lambda i, k_, s_, p_, o: (i - 1) * s_ - 2 * p_ + (k_ - 1) + o + 1)),
            Mistake("You used the convolution's formula; a transposed convolution goes the other way: "
                    "(n−1)s − 2p + d(k−1) + output_padding + 1.",
                    variant(lambda i, k_, s_, p_, o: conv_length(i, k_, s_, p_, d))),
            Mistake("You added the padding; in a transposed convolution padding crops p cells from each border: "
                    "− 2p.", variant(lambda i, k_, s_, p_, o: (i - 1) * s_ + 2 * p_ + d * (k_ - 1) + o + 1)),
            Mistake("The output has out_channels channels, not the input's channel count.",
                    [n, c_in, *expected[2:]]),
        ], expected)

    layer_args = {k_: v for k_, v in layer.items() if k_ != "op"}
    prompt = (f"A conv_transpose2d layer ({args_text(layer_args)}) receives an input of shape N×C×H×W = "
              f"{n}×{c_in}×{h}×{w}. What is the shape of its output? Answer [N, C, H, W].")
    return Problem("Output shape of a transposed convolution", prompt,
                   {"input_shape": [n, c_in, h, w], "layer": layer}, SHAPE_FORMAT, lambda: expected, mistakes)


# ---------------------------------------------------------------- receptive_field
_RF_FIELDS = {1: ("r",), 2: ("r", "j"), 3: ("r", "j", "start")}


def _rf_layers(rng: random.Random, difficulty: int) -> list[dict[str, Any]]:
    def conv(name: str, dilation: int = 1) -> dict[str, Any]:
        k = rng.choice([3, 5]) if difficulty < 3 else rng.choice([3, 3, 5, 7])
        s = rng.choice([1, 2])
        p = dilation * (k // 2) if difficulty < 3 else rng.randint(0, dilation * (k // 2))
        layer = {"op": "conv2d", "name": name, "out_channels": 8, "kernel_size": k, "stride": s, "padding": p}
        return layer | ({"dilation": dilation} if dilation > 1 else {})

    def pool(name: str) -> dict[str, Any]:
        k = rng.choice([2, 3])
        return {"op": "max_pool2d", "name": name, "kernel_size": k, "stride": 2} | (
            {"padding": 1} if difficulty == 3 and k == 3 and rng.random() < 0.5 else {})

    if difficulty == 1:
        return [conv("conv1"), conv("conv2")]
    if difficulty == 2:
        return [conv("conv1"), pool("pool1"), conv("conv2")]
    dilated = rng.randint(1, 2)
    stack = [conv("conv1"), pool("pool1"), conv("conv2", dilation=rng.choice([2, 3]) if dilated == 1 else 1)]
    if rng.random() < 0.5:
        stack.append(conv("conv3", dilation=rng.choice([2, 4]) if dilated == 2 else 1))
    return stack


def rf_variant(stack: list[dict[str, Any]], *, dilation: bool = True, jump: str = "in", pool_stride: bool = True,
               pad: int = 1, start0: Fraction = Fraction(1, 2)) -> dict[str, Any]:
    """The lecture's recursion, optionally with one mistake in it."""
    r, j, start = Fraction(1), Fraction(1), start0
    for layer in stack:
        k, p = layer["kernel_size"], layer.get("padding", 0)
        s = layer.get("stride", k if layer["op"] == "max_pool2d" else 1)
        d = layer.get("dilation", 1) if dilation else 1
        j_out = j * s if (pool_stride or layer["op"] != "max_pool2d") else j
        step = {"in": j, "out": j_out, "none": Fraction(1)}[jump]
        r += d * (k - 1) * step
        start += (Fraction(d * (k - 1), 2) - pad * p) * j
        j = j_out
    return {"r": receptive.number(r), "j": receptive.number(j), "start": receptive.number(start)}


def _receptive_field(rng: random.Random, difficulty: int) -> Problem:
    while True:
        stack = _rf_layers(rng, difficulty)
        size = rng.choice([32, 48, 64, 96])
        try:
            table = receptive.entries((1, size, size), stack)
        except InvalidRequest:
            continue
        break
    last = table[-1].axes[0]
    fields = _RF_FIELDS[difficulty]
    full = {"r": receptive.number(last.r), "j": receptive.number(last.j), "start": receptive.number(last.start)}
    expected = {f: full[f] for f in fields}

    def mistakes() -> list[Mistake]:
        found = []
        for sentence, kw in (
                ("you left out the dilation: a dilated kernel adds d(k−1)·j_in.", {"dilation": False}),
                ("you multiplied by the new jump; r_out = r_in + d(k−1)·j_in uses the layer's input jump.",
                 {"jump": "out"}),
                ("you left out the jump: each layer adds d(k−1)·j_in, and j grows with every stride.",
                 {"jump": "none"}),
                ("the pooling layer's stride multiplies the jump too.", {"pool_stride": False}),
                ("you left out the padding: start_out = start_in + (d(k−1)/2 − p)·j_in.", {"pad": 0}),
                ("the padding is subtracted: start_out = start_in + (d(k−1)/2 − p)·j_in.", {"pad": -1}),
                ("the input's first pixel has its centre at 0.5 (pixel i covers [i, i+1)).",
                 {"start0": Fraction(0)})):
            wrong = rf_variant(stack, **kw)
            found += [Mistake(f"Not quite: {sentence}", wrong[f], field=f) for f in fields if wrong[f] != full[f]]
        return found

    text = "; ".join(f"{layer['name']}: {layer['op']}({args_text(layer)})" for layer in stack)
    asked = {"r": "r, the receptive field size in input pixels", "j": "j, the jump (input pixels between "
             "neighbouring units)", "start": "start, the centre of the first unit in input pixels"}
    prompt = (f"A {size}×{size} image goes through {text}. Using the receptive-field recursion (input: j = 1, "
              f"r = 1, start = 0.5, pixel i covering [i, i+1)), give for the units of {stack[-1]['name']}: "
              f"{'; '.join(asked[f] for f in fields)}. The layers are square, so give one number per quantity.")
    fmt = {"type": "object", "fields": {f: {"type": "number" if f == "start" else "integer"} for f in fields}}
    return Problem("Receptive field", prompt, {"input_size": [size, size], "layers": stack}, fmt,
                   lambda: expected, mistakes)


# ---------------------------------------------------------------- param_count
def _param_stack(rng: random.Random, difficulty: int) -> tuple[list[int], list[dict[str, Any]]]:
    if difficulty == 1:
        c = rng.choice([1, 3, 16, 64])
        return [c, 32, 32], [{"op": "conv2d", "out_channels": rng.choice([8, 16, 32, 64, 128]),
                              "kernel_size": rng.choice([1, 3, 5, 7]), "bias": rng.random() < 0.5}]
    if difficulty == 2:
        c = rng.choice([16, 32, 64])
        g = rng.choice([2, 4, c])
        return [c, 16, 16], [
            {"op": "conv2d", "out_channels": c * rng.choice([1, 2]), "kernel_size": 3, "padding": 1, "groups": g,
             "bias": False},
            {"op": "batch_norm2d"}, {"op": "relu"},
            {"op": "conv2d", "out_channels": rng.choice([32, 64]), "kernel_size": 1, "bias": rng.random() < 0.5}]
    c, width, g = rng.choice([1, 3]), rng.choice([8, 16]), rng.choice([1, 2, 4])
    return [c, 8, 8], [
        {"op": "conv2d", "out_channels": width, "kernel_size": 3, "padding": 1, "bias": False},
        {"op": "batch_norm2d"}, {"op": "relu"}, {"op": "max_pool2d", "kernel_size": 2},
        {"op": "conv_transpose2d", "out_channels": 4 * g, "kernel_size": 2, "stride": 2, "groups": g},
        {"op": "relu"}, {"op": "flatten"}, {"op": "linear", "out_features": rng.choice([2, 10])}]


def _param_count(rng: random.Random, difficulty: int) -> Problem:
    input_shape, stack = _param_stack(rng, difficulty)
    walked = layers_mod.walk(input_shape, stack)
    expected = sum(layer.params for layer in walked)

    def mistakes() -> list[Mistake]:
        grouped = ungrouped = bias_flip = bn4 = bn0 = 0
        for layer in walked:
            if layer.op in ("conv2d", "conv_transpose2d"):
                g = layer.spec.groups
                weights = layer.params - (layer.output_shape[0] if layer.args.get("bias", True) else 0)
                grouped += weights * (g - 1)
                ungrouped += 1 if g > 1 else 0
            if layer.op in ("conv2d", "conv_transpose2d", "linear"):
                out = layer.output_shape[0] if layer.op != "linear" else layer.output_shape[-1]
                bias_flip += -out if layer.args.get("bias", True) else out
            if layer.op == "batch_norm2d":
                bn4 += layer.params
                bn0 -= layer.params
        found = [Mistake("Not quite: you counted the bias the wrong way round — bias=True adds out_channels "
                         "values, bias=False none.", expected + bias_flip)]
        if ungrouped:
            found.append(Mistake("Not quite: with groups = G each filter sees only C_in / G channels, so a grouped "
                                 "convolution has G times fewer weights.", expected + grouped))
        if bn4:
            found += [Mistake("Not quite: batch_norm2d learns 2C values (γ and β); its running mean and variance "
                              "are buffers, not parameters.", expected + bn4),
                      Mistake("Not quite: batch_norm2d (affine, the default) learns γ and β, 2C parameters.",
                              expected + bn0)]
        return distinct(found, expected)

    lines = "; ".join(f"{layer['op']}({args_text(layer)})" for layer in stack)
    prompt = (f"How many learnable parameters (sum(p.numel() for p in model.parameters())) does this stack have "
              f"on a {'×'.join(map(str, input_shape))} input (C×H×W; in_channels and in_features are "
              f"inferred)? {lines}.")
    return Problem("Parameter count", prompt, {"input_shape": input_shape, "layers": stack}, {"type": "integer"},
                   lambda: expected, mistakes)


KINDS = {k.name: k for k in (
    Kind("conv_output_shape", "Output shape of a convolution",
         "The N×C×H×W shape of conv2d's output: ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 per axis, out_channels channels.",
         "[N, C, H, W], integers", {1: "square input and kernel, stride and padding",
                                    2: "non-square input, batch, strides that do not divide evenly",
                                    3: "non-square kernels and strides, dilation, groups"}, _conv_shape),
    Kind("conv_transpose_output_shape", "Output shape of a transposed convolution",
         "The shape of conv_transpose2d's output: (n−1)s − 2p + d(k−1) + output_padding + 1 per axis.",
         "[N, C, H, W], integers", {1: "stride 2, square", 2: "output_padding, non-square input",
                                    3: "dilation, non-square kernels and strides, groups"}, _transpose_shape),
    Kind("receptive_field", "Receptive field",
         "r, j and start of the last layer's units, by the lecture's recursion (start = 0.5 for the input).",
         '{"r": int} / {"r", "j"} / {"r", "j", "start": number}', {1: "two convolutions, r",
                                                                    2: "conv, max pool, conv: r and j",
                                                                    3: "dilation and padding: r, j and start"},
         _receptive_field),
    Kind("param_count", "Parameter count",
         "The learnable parameters of a stack: groups divide the weights, bias adds out_channels, batch norm 2C.",
         "an integer", {1: "one convolution", 2: "grouped / depthwise convolution, batch norm, pointwise conv",
                        3: "conv, batch norm, pool, transposed conv with groups, flatten, linear"}, _param_count),
)}
