"""Receptive fields of a layer stack: n, j, r, start per layer and axis, and the region one unit sees.

Conventions (API.md, and the course's receptive-field lecture): pixel i covers [i, i+1), so its centre
is i + 0.5. Per axis, for every layer:

    n      the number of units;          j      the jump: input pixels between neighbouring unit centres
    r      the receptive field, pixels;  start  the centre of unit 0, in input pixels

Entry 0 is the input: n = size, j = 1, r = 1, start = 0.5. Then, layer by layer (all exact rationals):

conv2d, max_pool2d, avg_pool2d (kernel k, stride s, padding p before the first cell, dilation d):
    n_out = ⌊(n_in + 2p − d(k−1) − 1)/s⌋ + 1            (shapes.py: PyTorch's rule, ceil_mode included)
    j_out = j_in·s,   r_out = r_in + d(k−1)·j_in,   start_out = start_in + (d(k−1)/2 − p)·j_in

conv_transpose2d (k, s, p, d; output_padding only adds units at the end):
    output unit o receives input unit i through tap t when o = i·s − p + t·d, so every input unit that
    reaches o lies within i = (o + p − d(k−1)/2)/s ± d(k−1)/(2s). Measured in input pixels:
    j_out = j_in / s,   r_out = r_in + d(k−1)·j_out,   start_out = start_in + (p − d(k−1)/2)·j_out
    What a transposed unit "sees" is the union of the fields of the ⌈k/s⌉ or fewer input units that
    scatter into it; which ones depends on the phase o mod s. r is the envelope over all phases, centred
    on the unit: exact for s = 1, and for s > 1 it contains every unit's field but a given unit may see
    less (with k = s each output unit has exactly one source, off-centre by up to (k−1)/2·j_out).

max_unpool2d (k, s, p): a pooled value lands anywhere in its window, so it has conv_transpose2d's
    geometry with d = 1 and the same envelope.

interpolate, adaptive_avg_pool2d (resampling): j_out = q·j_in with q torch's input-per-output ratio
    (1/scale_factor, n_in/n_out for size, (n_in−1)/(n_out−1) with align_corners), and unit o is centred
    at input index c(o) = c0 + o·q, c0 = (q − 1)/2 (0 with align_corners). Then
    start_out = start_in + c0·j_in,   r_out = r_in + 2m·j_in,
    where m = max over o of the distance from c(o) to the farthest input unit with a nonzero weight,
    read off torch's own interpolation weights. Nearest ×s (integer): m = (s−1)/(2s), so
    r_out = r_in + (s−1)·j_out — the same as conv_transpose2d with k = stride = s. Bilinear ×2: m = 3/4.

relu, relu6, leaky_relu, sigmoid, tanh, batch_norm2d, dropout pass through. flatten ends the grid: each unit is given the whole map's
    extent (n = 1, j_out = n_in·j_in, r_out = r_in + (n_in−1)·j_in, start_out = start_in + (n_in−1)/2·j_in),
    exact for the linear layers that follow. A linear on a C×H×W input acts along W: that axis gets
    n = out_features units that all share one centre (j = 0) and the whole width.

add, concat (networks): a merged unit at index o sees, through each input, that input's field of unit o
    (start_i + o·j ± r_i/2). Its field is the envelope: the smallest interval holding all of them,
    lo = min(start_i − r_i/2), hi = max(start_i + r_i/2), so r = hi − lo and start = (lo + hi)/2. The
    inputs must have equal n and j (else a 422 with both), which makes the envelope the same for every o.

A unit's region is centre ± r/2 per axis, centre = start + index·j: half-open, in input pixels, before
clipping. Clipped, it is the pixels [⌈y0⌉, ⌊y1⌋) inside the image — the whole pixels the region covers,
which contain every pixel with a nonzero gradient (effective.py measures those by autograd) when padding is
zeros; a conv2d whose padding_mode copies pixels (reflect, replicate, circular) also reads the pixels listed
in `wrapped` (reach.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import layers as layers_mod
from .effective import check_options, effective_field
from .exceptions import InvalidRequest, TooLarge, unknown_parameter
from .layers import Layer
from .layers.forward import resample_matrix
from .reach import wrapped

MAX_RESAMPLE_MATRIX = 8_000_000  # entries of the n_in × n_out weight matrix read to measure m
MAX_EXTENT = 10**15  # pixels: keeps every j, r and start an exact JSON number


@dataclass(frozen=True)
class Axis:
    n: int
    j: Fraction
    r: Fraction
    start: Fraction

    def centre(self, index: int) -> Fraction:
        return self.start + index * self.j


@dataclass(frozen=True)
class Entry:
    """Entry 0 is the input (layer None); entry k is the output of request layer k − 1."""

    name: str
    op: str
    axes: tuple[Axis, Axis]
    shape: tuple[int, ...]
    layer: Layer | None = None

    @property
    def units(self) -> int:
        """The channel count of a C×H×W map, else the number of values (after flatten)."""
        return self.shape[0] if len(self.shape) == 3 else math.prod(self.shape)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "n": [a.n for a in self.axes], "j": [number(a.j) for a in self.axes],
                "r": [number(a.r) for a in self.axes], "start": [number(a.start) for a in self.axes]}


def number(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else float(value)


# ---------------------------------------------------------------- the recursion, one axis at a time
def conv_axis(a: Axis, n_out: int, k: int, s: int, p_lo: int, d: int) -> Axis:
    span = d * (k - 1)
    return Axis(n_out, a.j * s, a.r + span * a.j, a.start + (Fraction(span, 2) - p_lo) * a.j)


def transpose_axis(a: Axis, n_out: int, k: int, s: int, p: int, d: int) -> Axis:
    span = d * (k - 1)
    j = a.j / s
    return Axis(n_out, j, a.r + span * j, a.start + (p - Fraction(span, 2)) * j)


def global_axis(a: Axis, n_out: int = 1) -> Axis:
    """Every unit sees the whole axis: as one window of k = n_in with no padding."""
    j = a.j * a.n if n_out == 1 else Fraction(0)
    return Axis(n_out, j, a.r + (a.n - 1) * a.j, a.start + Fraction(a.n - 1, 2) * a.j)


def resample_axis(a: Axis, n_out: int, q: Fraction, c0: Fraction, resample: Callable[[torch.Tensor], torch.Tensor],
                  what: str) -> Axis:
    """interpolate / adaptive pooling: centres c0 + o·q (input units), envelope measured on torch's weights."""
    if a.n * n_out > MAX_RESAMPLE_MATRIX:
        raise TooLarge(f"{what} maps {a.n} units to {n_out}; measuring its receptive field reads a {a.n}×{n_out} "
                       f"weight matrix, more than this server's cap of {MAX_RESAMPLE_MATRIX:,} entries.", ["layers"])
    weights = resample_matrix(a.n, resample, 2, 1).T.numpy() != 0  # [input unit, output unit]
    rows = np.arange(a.n)
    m = Fraction(0)
    for o in range(n_out):
        used = rows[weights[:, o]]
        if used.size:
            c = c0 + o * q
            m = max(m, abs(c - int(used[0])), abs(int(used[-1]) - c))
    return Axis(n_out, a.j * q, a.r + 2 * m * a.j, a.start + c0 * a.j)


def _interpolate_axes(axes: tuple[Axis, Axis], layer: Layer) -> tuple[Axis, Axis]:
    spec = layer.spec
    out = []
    for axis, (a, n_out) in enumerate(zip(axes, layer.output_shape[1:])):
        if spec.align_corners:
            q, c0 = (Fraction(a.n - 1, n_out - 1) if n_out > 1 else Fraction(0)), Fraction(0)
        else:
            q = Fraction(a.n, n_out) if spec.size is not None else 1 / Fraction(spec.scale_factor[axis])
            c0 = (q - 1) / 2
        if spec.size is not None:
            kwargs: dict[str, Any] = {"size": (1, n_out)}
        else:
            kwargs = {"scale_factor": (1.0, spec.scale_factor[axis])}

        def resample(t: torch.Tensor, kwargs: dict[str, Any] = kwargs) -> torch.Tensor:
            return F.interpolate(t, mode=spec.mode, align_corners=spec.align_corners, **kwargs)

        out.append(resample_axis(a, n_out, q, c0, resample, f"Layer {layer.index} (interpolate)"))
    return out[0], out[1]


def _adaptive_axes(axes: tuple[Axis, Axis], layer: Layer) -> tuple[Axis, Axis]:
    out = []
    for a, n_out in zip(axes, layer.output_shape[1:]):
        q = Fraction(a.n, n_out)
        out.append(resample_axis(a, n_out, q, (q - 1) / 2,
                                 lambda t, n_out=n_out: F.adaptive_avg_pool2d(t, (1, n_out)),
                                 f"Layer {layer.index} (adaptive_avg_pool2d)"))
    return out[0], out[1]


def _step(axes: tuple[Axis, Axis], layer: Layer) -> tuple[Axis, Axis]:
    op, spec, out_hw = layer.op, layer.spec, layer.output_shape[1:]
    if op == "conv2d":
        return tuple(conv_axis(a, n, k, s, lo, d) for a, n, k, s, (lo, _), d in  # type: ignore[return-value]
                     zip(axes, out_hw, spec.kernel, spec.stride, spec.padding, spec.dilation))
    if op in ("max_pool2d", "avg_pool2d"):
        return tuple(conv_axis(a, n, k, s, p, d) for a, n, k, s, p, d in  # type: ignore[return-value]
                     zip(axes, out_hw, spec.kernel, spec.stride, spec.padding, spec.dilation))
    if op == "conv_transpose2d":
        return tuple(transpose_axis(a, n, k, s, p, d) for a, n, k, s, (p, _), d in  # type: ignore[return-value]
                     zip(axes, out_hw, spec.kernel, spec.stride, spec.padding, spec.dilation))
    if op == "max_unpool2d":
        return tuple(transpose_axis(a, n, k, s, p, 1) for a, n, k, s, p in  # type: ignore[return-value]
                     zip(axes, out_hw, spec.kernel, spec.stride, spec.padding))
    if op == "interpolate":
        return _interpolate_axes(axes, layer)
    if op == "adaptive_avg_pool2d":
        return _adaptive_axes(axes, layer)
    if op == "flatten":
        return (global_axis(axes[0]), global_axis(axes[1])) if len(layer.input_shape) == 3 else axes
    if op == "linear" and len(layer.input_shape) == 3:
        return axes[0], global_axis(axes[1], layer.output_shape[-1])
    return axes  # activations, batch_norm2d, dropout, and anything after flatten


# ---------------------------------------------------------------- the stack
def _guess_channels(layers: Any) -> int:
    """Channels do not change a receptive field; without input_shape, take what the first layer implies."""
    for raw in layers if isinstance(layers, list) else []:
        if isinstance(raw, dict) and raw.get("op") in ("conv2d", "conv_transpose2d", "batch_norm2d"):
            for key in ("in_channels", "num_features", "groups"):
                if layers_mod.is_int(raw.get(key)) and raw[key] >= 1:
                    return raw[key]
            return 1
    return 1


def input_shape_of(input_size: Any, input_shape: Any, layers: Any) -> tuple[int, int, int]:
    if input_shape is not None:
        shape = layers_mod.check_input_shape(input_shape)
        if input_size is not None and layers_mod.size_pair(input_size) != shape[1:]:
            raise InvalidRequest(f"input_size {input_size!r} disagrees with input_shape {list(shape)} (its H and W).",
                                 ["input_size"])
        return shape
    if input_size is None:
        raise InvalidRequest("input_size is required: [H, W] of the input image.", ["input_size"])
    return (_guess_channels(layers), *layers_mod.size_pair(input_size))


def merge_axes(table: list["Entry"], layer: Layer) -> tuple[Axis, Axis]:
    """add / concat: the envelope of the inputs' fields for the same unit (their jumps and counts must agree)."""
    ins = [table[s] for s in layer.sources]
    out = []
    for axis, what in enumerate(("height", "width")):
        first = ins[0].axes[axis]
        for name, e in zip(layer.inputs[1:], ins[1:]):
            a = e.axes[axis]
            if a.j != first.j or a.n != first.n:
                raise InvalidRequest(
                    f"Layer {layer.index} ({layer.op}): along the {what}, {layer.inputs[0]!r} has n = {first.n} "
                    f"units {number(first.j)} input pixels apart (j) but {name!r} has n = {a.n}, j = {number(a.j)}; "
                    f"a merged unit's field is one interval only when its inputs' units line up (equal n and j).",
                    ["layers", layer.index, "inputs"])
        lo = min(e.axes[axis].start - e.axes[axis].r / 2 for e in ins)
        hi = max(e.axes[axis].start + e.axes[axis].r / 2 for e in ins)
        out.append(Axis(first.n, first.j, hi - lo, (lo + hi) / 2))
    return out[0], out[1]


def entries(input_shape: tuple[int, int, int], layers: Any) -> list[Entry]:
    stack = layers_mod.walk(list(input_shape), layers)
    axes = tuple(Axis(n, Fraction(1), Fraction(1), Fraction(1, 2)) for n in input_shape[1:])
    out = [Entry("input", "input", axes, input_shape)]  # type: ignore[arg-type]
    for layer in stack:
        if layer.op in layers_mod.MERGE_OPS:
            axes = merge_axes(out, layer)
        else:
            axes = _step(out[layer.sources[0]].axes if layer.sources else axes, layer)  # type: ignore[arg-type]
        if any(max(abs(a.j), a.r, abs(a.start)) > MAX_EXTENT for a in axes):
            raise InvalidRequest(f"Layer {layer.index} ({layer.op}): its receptive field would reach past 10^15 "
                                 f"pixels, this server's limit; the strides multiply too fast.",
                                 ["layers", layer.index])
        out.append(Entry(layer.name, layer.op, axes, layer.output_shape, layer))  # type: ignore[arg-type]
    return out


# ---------------------------------------------------------------- one unit
@dataclass(frozen=True)
class Unit:
    entry: int
    y: int
    x: int
    channel: int


def resolve_unit(unit: Any, table: list[Entry]) -> Unit:
    if not isinstance(unit, dict):
        raise InvalidRequest(f"unit must be an object {{\"layer\", \"y\", \"x\"}}, got {unit!r}.", ["unit"])
    extra = set(unit) - {"layer", "y", "x", "channel"}
    if extra:
        raise unknown_parameter("unit", min(extra), ("layer", "y", "x", "channel"), ["unit", min(extra)])
    layer = unit.get("layer", len(table) - 1)
    if isinstance(layer, str):
        names = [e.name for e in table]
        if layer not in names:
            raise InvalidRequest(f"unit.layer {layer!r} names no layer; the names are {', '.join(names)}.",
                                 ["unit", "layer"])
        k = names.index(layer)
    elif layers_mod.is_int(layer) and 0 <= layer < len(table):
        k = layer
    else:
        raise InvalidRequest(f"unit.layer must be an entry index from 0 (the input) to {len(table) - 1}, or a layer "
                             f"name, got {layer!r}.", ["unit", "layer"])
    entry = table[k]
    coords = []
    for field, a, axis in (("y", entry.axes[0], "height"), ("x", entry.axes[1], "width")):
        v = unit.get(field, 0)
        if not layers_mod.is_int(v) or not 0 <= v < a.n:
            raise InvalidRequest(f"unit.{field} must be an integer from 0 to {a.n - 1}: layer {entry.name!r} has "
                                 f"{a.n} units along its {axis}, got {v!r}.", ["unit", field])
        coords.append(v)
    channel = unit.get("channel", 0)
    if not layers_mod.is_int(channel) or not 0 <= channel < entry.units:
        raise InvalidRequest(f"unit.channel must be an integer from 0 to {entry.units - 1} (layer {entry.name!r} has "
                             f"{entry.units}), got {channel!r}.", ["unit", "channel"])
    return Unit(k, coords[0], coords[1], channel)


def region(entry: Entry, unit: Unit, size: tuple[int, int]) -> tuple[dict[str, Any], dict[str, int]]:
    """centre ± r/2 per axis (half-open, input pixels), and the whole pixels of it inside the image."""
    box: dict[str, Any] = {}
    clipped: dict[str, int] = {}
    for (lo, hi), a, index, n in ((("y0", "y1"), entry.axes[0], unit.y, size[0]),
                                  (("x0", "x1"), entry.axes[1], unit.x, size[1])):
        c = a.centre(index)
        first, last = c - a.r / 2, c + a.r / 2
        box[lo], box[hi] = number(first), number(last)
        clipped[lo] = min(max(0, math.ceil(first)), n)
        clipped[hi] = max(clipped[lo], min(n, math.floor(last)))
    return box, clipped


def receptive_field(input_size: Any, layers: Any, unit: Any = None, input_shape: Any = None,
                    effective: Any = None) -> dict[str, Any]:
    """The /receptive-field body (without "ok"); with `effective`, also the unit's measured field."""
    shape = input_shape_of(input_size, input_shape, layers)
    if effective is not None:
        check_options(effective)
        if unit is None:
            raise InvalidRequest("effective needs a unit: say which unit's gradient to measure, e.g. "
                                 "\"unit\": {\"layer\": 2, \"y\": 0, \"x\": 0}.", ["unit"])
    table = entries(shape, layers)
    result: dict[str, Any] = {"input_size": list(shape[1:]), "layers": [e.to_json() for e in table]}
    if unit is not None:
        u = resolve_unit(unit, table)
        entry = table[u.entry]
        box, clipped = region(entry, u, shape[1:])
        result["unit"] = {"layer": u.entry, "name": entry.name, "y": u.y, "x": u.x, "channel": u.channel,
                          "centre": [number(entry.axes[0].centre(u.y)), number(entry.axes[1].centre(u.x))]}
        result["region"], result["clipped"] = box, clipped
        result["wrapped"] = wrapped(table, u.entry, (u.y, u.x), clipped)  # reach.py: copying padding modes
        if effective is not None:
            stack = [e.layer for e in table[1:] if e.layer is not None]
            result["effective"] = effective_field(shape, layers, stack, (u.entry, u.y, u.x, u.channel), effective)
    return result
