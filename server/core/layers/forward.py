"""Forward on tensors: the one place where a checked spec or layer becomes a torch call.

Two levels, both used by every caller (/ops, the effective field, the lab pipeline, the probe, models):
    spec level    conv_forward, conv_transpose_forward, max_pool_forward, avg_pool_forward,
                  max_unpool_forward, interpolate_forward: shapes.py's checked specs, 1-D or 2-D
    layer level   forward(layer, inputs, params): one registry layer (build.py's Layer) on its inputs
                  (N×C×H×W, or N×F after flatten); params holds the layer's tensors by torch's names
                  (weight, bias, running_mean, running_var), absent ones are zero biases and a fresh
                  batch norm (mean 0, var 1, no affine part)
    network       Runner: a walked network (graph.py) run layer by layer, each layer reading the entries
                  it names; entries no later layer reads are dropped as soon as they are used.

`resample_matrix` is torch's resampling weights of one axis, read off the op applied to an identity.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from .. import shapes
from .build import Layer

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


# ---------------------------------------------------------------- spec level
def pad_input(spec: shapes.ConvSpec, t: torch.Tensor) -> torch.Tensor:
    """Pad explicitly (torch's F.pad wants the last axis first), copying values for non-zero modes."""
    flat = tuple(v for lo_hi in reversed(spec.padding) for v in lo_hi)
    mode = "constant" if spec.padding_mode == "zeros" else spec.padding_mode
    return F.pad(t, flat, mode=mode) if any(flat) else t


def conv_forward(spec: shapes.ConvSpec, t: torch.Tensor, weight: torch.Tensor,
                 bias: torch.Tensor | None = None) -> torch.Tensor:
    fn = F.conv1d if spec.dims == 1 else F.conv2d
    sym = spec.symmetric_padding
    if spec.padding_mode == "zeros" and sym is not None:
        return fn(t, weight, bias, spec.stride, sym, spec.dilation, spec.groups)
    return fn(pad_input(spec, t), weight, bias, spec.stride, 0, spec.dilation, spec.groups)


def conv_transpose_forward(spec: shapes.ConvSpec, t: torch.Tensor, weight: torch.Tensor,
                           bias: torch.Tensor | None = None) -> torch.Tensor:
    fn = F.conv_transpose1d if spec.dims == 1 else F.conv_transpose2d
    pad = tuple(lo for lo, _ in spec.padding)
    return fn(t, weight, bias, spec.stride, pad, spec.output_padding, spec.groups, spec.dilation)


def max_pool_forward(spec: shapes.PoolSpec, t: torch.Tensor, return_indices: bool = False) -> Any:
    fn = F.max_pool1d if spec.dims == 1 else F.max_pool2d
    return fn(t, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode, return_indices=return_indices)


def avg_pool_forward(spec: shapes.PoolSpec, t: torch.Tensor) -> torch.Tensor:
    if spec.dims == 2:
        return F.avg_pool2d(t, spec.kernel, spec.stride, spec.padding, spec.ceil_mode, spec.count_include_pad,
                            spec.divisor_override)
    # No divisor_override here: shapes.check_pool refuses it for avg_pool1d, as torch has none.
    return F.avg_pool1d(t, spec.kernel, spec.stride, spec.padding, spec.ceil_mode, spec.count_include_pad)


def max_unpool_forward(spec: shapes.PoolSpec, t: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    fn = F.max_unpool1d if spec.dims == 1 else F.max_unpool2d
    return fn(t, indices.long(), spec.kernel, spec.stride, spec.padding, list(spec.output_shape[2:]))


def interpolate_forward(spec: shapes.InterpolateSpec, t: torch.Tensor) -> torch.Tensor:
    return F.interpolate(t, size=spec.size, scale_factor=spec.scale_factor, mode=spec.mode,
                         align_corners=spec.align_corners)


def resample_matrix(n_in: int, resample: Callable[[torch.Tensor], torch.Tensor], dims: int = 2,
                    axis: int = 0) -> torch.Tensor:
    """The out × in weights of a separable resampling along one axis (float64): the op applied to the
    n_in one-hot inputs, laid along `axis` of a 1×…×1 map with `dims` spatial axes, gives torch's own weights."""
    shape = [n_in, 1] + [1] * dims
    shape[2 + axis] = n_in
    with torch.no_grad():
        eye = torch.eye(n_in, dtype=torch.float64).reshape(shape)
        return resample(eye).reshape(n_in, -1).T


# ---------------------------------------------------------------- layer level
def first_cells(layer: Layer) -> torch.Tensor:
    """Unpool indices with no matching pool: the first in-image cell of each window."""
    _, h_in, w_in = layer.input_shape
    spec = layer.spec
    out_h, out_w = layer.output_shape[1:]
    rows = np.clip(np.arange(h_in) * spec.stride[0] - spec.padding[0], 0, out_h - 1)
    cols = np.clip(np.arange(w_in) * spec.stride[1] - spec.padding[1], 0, out_w - 1)
    flat = rows[:, None] * out_w + cols[None, :]
    return torch.as_tensor(np.broadcast_to(flat, (1, layer.input_shape[0], h_in, w_in)).copy(), dtype=torch.long)


def unpool_pairs(stack: list[Layer]) -> dict[int, int | None]:
    """Each max_unpool2d's max_pool2d (layer indices): the latest earlier pool not yet taken (as in SegNet),
    when its shapes mirror the unpool's; None when none does (then `first_cells` stands in)."""
    open_pools: list[Layer] = []
    out: dict[int, int | None] = {}
    for layer in stack:
        if layer.op == "max_pool2d":
            open_pools.append(layer)
        elif layer.op == "max_unpool2d":
            pool = open_pools.pop() if open_pools else None
            fits = (pool is not None and pool.output_shape == layer.input_shape
                    and pool.input_shape[1:] == layer.output_shape[1:])
            out[layer.index] = pool.index if fits else None  # type: ignore[union-attr]
    return out


def forward(layer: Layer, inputs: list[torch.Tensor], params: Mapping[str, torch.Tensor] | None = None, *,
            indices: torch.Tensor | None = None, return_indices: bool = False, training: bool = False
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One layer on its input tensors (batch axis first): (output, max_pool2d's indices when asked for).
    batch_norm2d with training=True normalises by this batch's statistics and moves params' running
    statistics in place, as BatchNorm2d.train() does; otherwise every layer runs as in eval mode."""
    op, spec, args, p = layer.op, layer.spec, layer.args, params or {}
    x = inputs[0]
    if op == "add":
        out = x
        for t in inputs[1:]:
            out = out + t
        return out, None
    if op == "concat":
        return torch.cat(inputs, dim=1), None
    if op == "conv2d":
        return conv_forward(spec, x, p["weight"], p.get("bias")), None
    if op == "conv_transpose2d":
        return conv_transpose_forward(spec, x, p["weight"], p.get("bias")), None
    if op == "max_pool2d":
        if return_indices:
            return max_pool_forward(spec, x, True)  # type: ignore[no-any-return]
        return max_pool_forward(spec, x), None
    if op == "avg_pool2d":
        return avg_pool_forward(spec, x), None
    if op == "max_unpool2d":
        return max_unpool_forward(spec, x, first_cells(layer).to(x.device) if indices is None else indices), None
    if op == "interpolate":
        return interpolate_forward(spec, x), None
    if op == "adaptive_avg_pool2d":
        return F.adaptive_avg_pool2d(x, layer.output_shape[1:]), None
    if op in _ACTIVATIONS:
        return _ACTIVATIONS[op](x), None
    if op == "leaky_relu":
        return F.leaky_relu(x, float(args.get("negative_slope", 0.01))), None
    if op == "batch_norm2d":
        c = layer.input_shape[0]
        mean = p.get("running_mean")
        var = p.get("running_var")
        if mean is None:
            mean = torch.zeros(c, dtype=x.dtype, device=x.device)
        if var is None:
            var = torch.ones(c, dtype=x.dtype, device=x.device)
        return F.batch_norm(x, mean, var, p.get("weight"), p.get("bias"), training, args.get("momentum", 0.1),
                            float(args.get("eps", 1e-5))), None
    if op == "flatten":
        return torch.flatten(x, args.get("start_dim", 1), args.get("end_dim", -1)), None
    if op == "linear":
        return F.linear(x, p["weight"], p.get("bias")), None
    return x, None  # dropout, in eval mode


# ---------------------------------------------------------------- a network
def last_reads(stack: list[Layer]) -> list[int]:
    """Per entry (0 the input, k the output of layer k − 1): the index of the last layer that reads it."""
    last = [-1] * (len(stack) + 1)
    for layer in stack:
        for s in layer.sources or (layer.index,):
            last[s] = layer.index
    return last


class Runner:
    """A walked network on one input, a layer at a time (`start(x)`, then `step(i)` for i in order).

    params_of(layer) gives a layer's tensors; `training` names the batch_norm2d layers that normalise by
    this input's statistics; `pairs` maps each max_unpool2d to its max_pool2d (default unpool_pairs).
    With keep=True every entry is kept (autograd, the hypercolumn), else an entry is freed after its last read."""

    def __init__(self, stack: list[Layer], params_of: Callable[[Layer], Mapping[str, torch.Tensor] | None], *,
                 training: frozenset[int] = frozenset(), pairs: dict[int, int | None] | None = None,
                 keep: bool = False) -> None:
        self.stack, self.params_of, self.training, self.keep = stack, params_of, training, keep
        self.pairs = unpool_pairs(stack) if pairs is None else pairs
        self.wanted = {p for p in self.pairs.values() if p is not None}
        self.last = last_reads(stack)
        self.values: dict[int, torch.Tensor] = {}
        self.indices: dict[int, torch.Tensor] = {}

    def start(self, x: torch.Tensor) -> torch.Tensor:
        self.values = {0: x}
        self.indices = {}
        return x

    def inputs(self, i: int) -> list[torch.Tensor]:
        layer = self.stack[i]
        return [self.values[s] for s in (layer.sources or (i,))]

    def step(self, i: int) -> torch.Tensor:
        layer = self.stack[i]
        pool = self.pairs.get(i)
        y, idx = forward(layer, self.inputs(i), self.params_of(layer),
                         indices=self.indices.pop(pool) if pool is not None else None,
                         return_indices=i in self.wanted, training=i in self.training)
        if idx is not None:
            self.indices[i] = idx
        self.values[i + 1] = y
        if not self.keep:
            for s in set(layer.sources or (i,)):
                if self.last[s] <= i:
                    self.values.pop(s, None)
            if self.last[i + 1] < 0 and i + 1 < len(self.stack):  # read by no later layer
                self.values.pop(i + 1, None)
        return y

    def run(self, x: torch.Tensor) -> list[torch.Tensor | None]:
        """Every entry's tensor (None for those freed), in order."""
        out: list[torch.Tensor | None] = [self.start(x)]
        for i in range(len(self.stack)):
            out.append(self.step(i))
        return out
