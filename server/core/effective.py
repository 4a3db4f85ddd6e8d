"""The effective receptive field of one unit, measured by autograd (Luo et al., 2016, "Understanding the
Effective Receptive Field in Deep Convolutional Neural Networks").

The stack runs forward on a 1 × C × H × W input in float64 on the CPU, and the gradient of the chosen
unit with respect to the input is summed over input channels as |∂unit/∂x|: an H × W heatmap whose
nonzero pixels are exactly the pixels the unit depends on here.

Weights ("weights"):
    "constant"  every weight 1/fan_in, input uniform in [0.5, 1.5): everything stays positive, so relu
                never switches a path off and the heatmap is the stack's pure geometry
    "random"    He-normal weights N(0, 2/fan_in) and a N(0, 1) input, from torch.Generator(seed)
Biases are zero; batch_norm2d runs in eval mode with fresh statistics (x / sqrt(1 + eps)); dropout is off
(eval mode). In a network each layer reads the entries it names; add sums, concat joins channels.
max_unpool2d takes the indices of the max_pool2d it mirrors (the last unpaired one, as in
SegNet) when the shapes match, and otherwise the first cell of each window (layers/forward.py's
unpool_pairs and first_cells; every layer runs through the registry's forward). "channels" replaces every
layer's channel count (and drops groups) to make a large stack cheap: the geometry does not change.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pybase64
import torch

from . import layers as layers_mod
from .exceptions import InvalidRequest, TooLarge, did_you_mean
from .layers import Layer
from .layers.forward import Runner

MAX_MACS = 2_000_000_000
MAX_ACTIVATIONS = 24_000_000
MAX_PARAMS = 20_000_000
LIST_CELLS = 4096  # heatmaps up to 64×64 come back as nested lists, larger ones as base64 uint8
_HINT = ' Ask for fewer channels with "effective": {"channels": 1}: the receptive field does not depend on them.'


def check_options(options: Any) -> tuple[str, int, int | None]:
    if options is True:
        options = {}
    if not isinstance(options, dict):
        raise InvalidRequest(f"effective must be an object like {{\"weights\": \"constant\", \"seed\": 0}}, got "
                             f"{options!r}.", ["effective"])
    extra = set(options) - {"weights", "seed", "channels"}
    if extra:
        key = min(extra)
        hint = did_you_mean(key, ("weights", "seed", "channels"))
        raise InvalidRequest(f"effective has no option {key!r};{' ' + hint if hint else ''} it takes weights, seed and channels.",
                             ["effective", key])
    weights = options.get("weights", "constant")
    if weights not in ("constant", "random"):
        raise InvalidRequest(f"effective.weights must be 'constant' or 'random', got {weights!r}.",
                             ["effective", "weights"])
    seed = options.get("seed", 0)
    if not layers_mod.is_int(seed) or not 0 <= seed < 2**63:
        raise InvalidRequest(f"effective.seed must be an integer from 0 to 2^63 − 1, got {seed!r}.",
                             ["effective", "seed"])
    channels = options.get("channels")
    if channels is not None and (not layers_mod.is_int(channels) or not 1 <= channels <= 1024):
        raise InvalidRequest(f"effective.channels must be an integer from 1 to 1024, got {channels!r}.",
                             ["effective", "channels"])
    return weights, seed, channels


def _with_channels(input_shape: tuple[int, ...], layers: list[dict[str, Any]], channels: int
                   ) -> tuple[tuple[int, ...], list[Layer]]:
    changed = []
    for raw in layers:
        layer = {k: v for k, v in raw.items() if k not in ("in_channels", "in_features", "num_features", "groups")}
        if layer["op"] in ("conv2d", "conv_transpose2d"):
            layer["out_channels"] = channels
        elif layer["op"] == "linear":
            layer["out_features"] = channels
        changed.append(layer)
    shape = (channels, *input_shape[1:])
    return shape, layers_mod.walk(list(shape), changed)


def _check_cost(stack: list[Layer], input_shape: tuple[int, ...]) -> None:
    macs = sum(layer.macs for layer in stack)
    params = sum(layer.params for layer in stack)
    cells = math.prod(input_shape) + sum(math.prod(layer.output_shape) for layer in stack)
    for value, cap, what in ((macs, MAX_MACS, "multiply-accumulates"), (params, MAX_PARAMS, "weights"),
                             (cells, MAX_ACTIVATIONS, "activations")):
        if value > cap:
            raise TooLarge(f"The effective receptive field up to this unit needs {value:,} {what}, more than this "
                           f"server's cap of {cap:,}.{_HINT}", ["effective"])


class _Weights:
    def __init__(self, mode: str, seed: int) -> None:
        self.mode = mode
        self.gen = torch.Generator().manual_seed(seed)

    def make(self, shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
        if self.mode == "constant":
            return torch.full(shape, 1.0 / fan_in, dtype=torch.float64)
        return torch.randn(shape, generator=self.gen, dtype=torch.float64) * math.sqrt(2.0 / fan_in)

    def input(self, shape: tuple[int, ...]) -> torch.Tensor:
        if self.mode == "constant":
            return torch.rand(shape, generator=self.gen, dtype=torch.float64) + 0.5
        return torch.randn(shape, generator=self.gen, dtype=torch.float64)


def _params(layer: Layer, w: _Weights) -> dict[str, torch.Tensor] | None:
    """The layer's weights as this mode makes them (biases zero: absent)."""
    spec = layer.spec
    if layer.op == "conv2d":
        _, c_per_group, kh, kw = spec.weight_shape
        return {"weight": w.make(spec.weight_shape, c_per_group * kh * kw)}
    if layer.op == "conv_transpose2d":
        c_in, _, kh, kw = spec.weight_shape
        return {"weight": w.make(spec.weight_shape, max(1, c_in // spec.groups) * kh * kw)}
    if layer.op == "linear":
        n_in, n_out = layer.input_shape[-1], layer.output_shape[-1]
        return {"weight": w.make((n_out, n_in), n_in)}
    return None


def heatmap(grad: np.ndarray) -> dict[str, Any]:
    """An H × W map as {"width", "height", "min", "max", "encoding", "data"}: a nested list when small,
    else base64 of uint8 row-major values scaled from [min, max] to [0, 255]."""
    h, w = grad.shape
    lo, hi = float(grad.min()), float(grad.max())
    out: dict[str, Any] = {"width": w, "height": h, "min": lo, "max": hi}
    if h * w <= LIST_CELLS:
        return out | {"encoding": "list", "data": grad.tolist()}
    scaled = np.zeros(grad.shape) if hi == lo else (grad - lo) / (hi - lo) * 255.0
    data = np.rint(scaled).astype(np.uint8)
    return out | {"encoding": "uint8-base64", "data": pybase64.b64encode_as_string(data.tobytes())}


def effective_field(input_shape: tuple[int, int, int], layers: list[dict[str, Any]], stack: list[Layer],
                    unit: tuple[int, int, int, int], options: Any) -> dict[str, Any]:
    """|∂ unit / ∂ input| summed over input channels, its bounding box and its nonzero count.
    `unit` is (entry, y, x, channel); entry k is the output of layer k − 1 (0: the input itself)."""
    weights, seed, channels = check_options(options)
    upto, y, x_, channel = unit
    shape = tuple(input_shape)
    if channels is not None:
        shape, stack = _with_channels(shape, layers[:upto], channels)
    stack = stack[:upto]
    units = (stack[-1].output_shape if stack else shape)
    count = units[0] if len(units) == 3 else math.prod(units)
    if channel >= count:
        raise InvalidRequest(f"unit.channel ({channel}) must be below {count}, the channels of that layer with "
                             f"effective.channels = {channels}.", ["unit", "channel"])
    _check_cost(stack, shape)
    w = _Weights(weights, seed)
    x = w.input((1, *shape)).requires_grad_(True)
    made: dict[int, dict[str, torch.Tensor] | None] = {}  # in layer order: the random weights' sequence
    runner = Runner(stack, lambda layer: made.setdefault(layer.index, _params(layer, w)))
    t = runner.start(x)
    for i in range(len(stack)):
        t = runner.step(i)
    value = t[0, channel, y, x_] if t.dim() == 4 else t.reshape(-1)[channel]
    (grad,) = torch.autograd.grad(value, x)
    g = grad.abs().sum(dim=1)[0].numpy()
    rows, cols = np.flatnonzero(g.any(axis=1)), np.flatnonzero(g.any(axis=0))
    bbox = None if rows.size == 0 else {"y0": int(rows[0]), "y1": int(rows[-1]) + 1, "x0": int(cols[0]),
                                        "x1": int(cols[-1]) + 1}
    return {"weights": weights, "seed": seed, "channels": channels, "value": float(value.detach()),
            "bbox": bbox, "nonzero": int(np.count_nonzero(g)), "heatmap": heatmap(g)}
