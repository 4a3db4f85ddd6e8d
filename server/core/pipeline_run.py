"""Running a planned pipeline (pipeline.py) one layer at a time, each layer's maps encoded as it is made.

`PipelineRun` holds only the current tensor and the max-pool indices a later unpool needs, so a
streamed run keeps one layer in memory and can stop between layers when the client goes away.
Every block carries its feature maps (encoding.py), the layer's receptive-field geometry (for placing
its maps over the image), the sliding-window geometry the page's sweep draws, and for batch_norm2d
the statistics it used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from convscope.core.encoding import EncodedMap, check_encoding, encode_feature_maps
from convscope.core.exceptions import InvalidRequest
from convscope.core.ops import conv_forward
from convscope.core.pipeline import PlannedLayer, plan_pipeline
from convscope.core.receptive import entries

DEFAULT_MAX_SIDE = 256
MAX_DISPLAY_SIDE = 1024


@dataclass(eq=False)
class Block:
    """One map stack of the response: the input (index -1) or layer `index`'s output."""

    index: int
    op: str
    shape: list[int]
    maps: list[EncodedMap]
    field: dict[str, Any]
    sweep: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None

    def header(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "op": self.op, "shape": self.shape, "field": self.field}
        if self.sweep is not None:
            out["sweep"] = self.sweep
        if self.stats is not None:
            out["stats"] = self.stats
        return out

    def as_dict(self) -> dict[str, Any]:
        return self.header() | {"maps": [m.as_dict() for m in self.maps]}


def check_display(max_side: Any, encoding: Any) -> tuple[int, str]:
    if isinstance(max_side, bool) or not isinstance(max_side, int) or not 1 <= max_side <= MAX_DISPLAY_SIDE:
        raise InvalidRequest(f"max_side must be an integer from 1 to {MAX_DISPLAY_SIDE}, not {max_side!r}.",
                             ["max_side"])
    check_encoding(encoding, max_side)
    return max_side, encoding


def apply_layer(p: PlannedLayer, x: torch.Tensor, pools: dict[int, torch.Tensor], keep: set[int] | None = None
                ) -> tuple[torch.Tensor, dict[str, Any] | None]:
    """Layer p on x (1×C×H×W). A max pool whose index is in `keep` (all, when keep is None) records its
    indices in `pools` for a later max_unpool2d; indices cost a third more time. Works with or without autograd."""
    s = p.spec
    if p.op in ("conv2d", "conv_transpose2d"):
        w = torch.as_tensor(p.weight, device=x.device)
        if p.op == "conv2d":
            return conv_forward(s, x, w), None
        return F.conv_transpose2d(x, w, None, s.stride, s.symmetric_padding, s.output_padding, s.groups,
                                  s.dilation), None
    if p.op == "relu":
        return F.relu(x), None
    if p.op == "relu6":
        return F.relu6(x), None
    if p.op == "leaky_relu":
        return F.leaky_relu(x, p.params["negative_slope"]), None
    if p.op == "sigmoid":
        return torch.sigmoid(x), None
    if p.op == "tanh":
        return torch.tanh(x), None
    if p.op == "batch_norm2d":
        return _batch_norm(x, p.params)
    if p.op == "max_pool2d":
        if keep is not None and p.index not in keep:
            return F.max_pool2d(x, s.kernel, s.stride, s.padding, s.dilation, s.ceil_mode), None
        y, idx = F.max_pool2d(x, s.kernel, s.stride, s.padding, s.dilation, s.ceil_mode, return_indices=True)
        pools[p.index] = idx
        return y, None
    if p.op == "avg_pool2d":
        return F.avg_pool2d(x, s.kernel, s.stride, s.padding, s.ceil_mode, s.count_include_pad), None
    if p.op == "max_unpool2d":
        return F.max_unpool2d(x, pools[p.params["from"]], s.kernel, s.stride, s.padding,
                              output_size=list(s.output_shape[2:])), None
    return F.interpolate(x, size=s.size, scale_factor=s.scale_factor, mode=s.mode, align_corners=s.align_corners), None


def _batch_norm(x: torch.Tensor, params: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
    """torch's batch_norm with no affine part. Training: this image's per-channel mean and (biased) variance
    normalise it, and the running statistics move by `momentum` towards the batch's (unbiased variance),
    as BatchNorm2d.train() does. Eval: the running statistics normalise it."""
    running_mean = torch.tensor(params["running_mean"], dtype=x.dtype, device=x.device)
    running_var = torch.tensor(params["running_var"], dtype=x.dtype, device=x.device)
    before_mean, before_var = params["running_mean"], params["running_var"]
    y = F.batch_norm(x, running_mean, running_var, training=params["training"], momentum=params["momentum"],
                     eps=params["eps"])
    stats: dict[str, Any] = {"training": params["training"], "eps": params["eps"], "momentum": params["momentum"]}
    if params["training"]:
        with torch.no_grad():
            stats["mean"] = x.mean(dim=(0, 2, 3)).tolist()
            stats["var"] = x.var(dim=(0, 2, 3), unbiased=False).tolist()
        stats["running_mean_before"], stats["running_var_before"] = before_mean, before_var
        stats["running_mean"], stats["running_var"] = running_mean.tolist(), running_var.tolist()
    else:
        stats["mean"], stats["var"] = before_mean, before_var
    return y, stats


def _sweep(p: PlannedLayer) -> dict[str, Any] | None:
    """Where the window sits for each output cell (conv, pools), or where each input cell's kernel copy
    lands (transposed conv), per axis: a cell reads or writes starts[o] + taps[t]. Padding is (before, after)."""
    s = p.spec
    if p.op in ("conv2d", "max_pool2d", "avg_pool2d"):
        pads = s.padding if p.op == "conv2d" else [(q, q) for q in s.padding]
        axes = []
        for n_in, n_out, k, st, (lo, hi), d in zip(p.input_shape[1:], p.output_shape[1:], s.kernel, s.stride, pads,
                                                   s.dilation):
            axes.append({"n_in": n_in, "n_out": n_out, "starts": [o * st - lo for o in range(n_out)],
                         "taps": [t * d for t in range(k)], "padding": [lo, hi]})
        return {"kind": "window", "axes": axes}
    if p.op == "conv_transpose2d":
        axes = []
        for n_in, n_out, k, st, (lo, _), d in zip(p.input_shape[1:], p.output_shape[1:], s.kernel, s.stride,
                                                  s.padding, s.dilation):
            axes.append({"n_in": n_in, "n_out": n_out, "starts": [i * st - lo for i in range(n_in)],
                         "taps": [t * d for t in range(k)], "padding": [lo, lo]})
        return {"kind": "scatter", "axes": axes}
    return None


class PipelineRun:
    """A validated pipeline on one image; `input_block()` then `step(i)` for each layer, in order."""

    def __init__(self, pixels: np.ndarray, layers: Any, *, max_side: int = DEFAULT_MAX_SIDE,
                 encoding: str = "raw", device: str = "cpu") -> None:
        self.max_side, self.encoding = check_display(max_side, encoding)
        self.pixels = pixels
        self.device = device
        shape = tuple(int(v) for v in pixels.shape)
        self.planned = plan_pipeline(shape, layers)  # type: ignore[arg-type]
        self.fields = [e.to_json() for e in entries(shape, [p.stack for p in self.planned])]  # type: ignore[arg-type]
        for f in self.fields:
            f.pop("name", None)
        self._x: torch.Tensor | None = None
        self._pools: dict[int, torch.Tensor] = {}
        self._keep = {p.params["from"] for p in self.planned if p.op == "max_unpool2d"}

    def __len__(self) -> int:
        return len(self.planned)

    def compute(self, i: int) -> tuple[torch.Tensor, dict[str, Any] | None]:
        """Block i's maps as a tensor: i = -1 is the image, else layer i run on block i − 1's output.
        Blocks are computed in order; encode() may then run on another thread while the next is computed."""
        if i == -1:
            # Channels-last: torch's CPU kernels for depthwise conv and pooling are several times faster on it
            # (a 3-channel depthwise 3×3 at 512²: 20 ms → 1 ms), and encoding.py reads it without a transpose.
            x = torch.as_tensor(np.array(self.pixels, dtype=np.float32), device=self.device)[None]
            self._x = x.contiguous(memory_format=torch.channels_last)
            return self._x, None
        assert self._x is not None, "compute(-1) first"
        with torch.no_grad():
            self._x, stats = apply_layer(self.planned[i], self._x, self._pools, self._keep)
        return self._x, stats

    def encode(self, i: int, y: torch.Tensor, stats: dict[str, Any] | None) -> Block:
        maps = encode_feature_maps(y[0], max_side=self.max_side, encoding=self.encoding)  # type: ignore[arg-type]
        if i == -1:
            return Block(-1, "input", list(y.shape[1:]), maps, self.fields[0])
        p = self.planned[i]
        return Block(i, p.op, list(p.output_shape), maps, self.fields[i + 1], _sweep(p), stats)

    def input_block(self) -> Block:
        return self.encode(-1, *self.compute(-1))

    def step(self, i: int) -> Block:
        """Run layer i on the previous layer's output (input_block() must have run first)."""
        return self.encode(i, *self.compute(i))

    def blocks(self) -> list[Block]:
        return [self.input_block(), *(self.step(i) for i in range(len(self)))]


def run_pipeline(pixels: np.ndarray, layers: Any, *, max_side: int = DEFAULT_MAX_SIDE, encoding: str = "raw",
                 device: str = "cpu") -> dict[str, Any]:
    """Validate, run and encode; the JSON-ready body of POST /api/v1/pipeline (without "ok")."""
    run = PipelineRun(pixels, layers, max_side=max_side, encoding=encoding, device=device)
    first, *rest = run.blocks()
    inp = first.as_dict()
    del inp["index"], inp["op"]
    return {"input": inp, "layers": [b.as_dict() for b in rest], "device": str(device)}
