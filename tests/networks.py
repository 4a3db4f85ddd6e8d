"""A network body (the /shapes form with names, inputs and merges) as real torch.nn modules.

The tests' own translator, written from torch's documentation and independent of the server's layer
registry: the reference that catalogue definitions and translated ONNX models are compared with.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_META = ("op", "name", "input", "inputs")


def _kwargs(layer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in layer.items() if k not in _META}


class TorchNetwork(nn.Module):
    """Each layer reads its `input` (default: the layer before) or its merge `inputs`."""

    def __init__(self, body: dict[str, Any], weights: dict[str, dict[str, np.ndarray]] | None = None) -> None:
        super().__init__()
        self.layers = body["layers"]
        self.mods = nn.ModuleDict()
        self.reads: dict[str, list[str]] = {}
        shapes: dict[str, tuple[int, ...]] = {"input": tuple(body["input_shape"])}
        previous = "input"
        for layer in self.layers:
            reads = list(layer.get("inputs") or [layer.get("input", previous)])
            self.reads[layer["name"]] = reads
            module = self._module(layer, shapes[reads[0]])
            if module is not None:
                self.mods[self._key(layer)] = module.eval()  # the shape probe below must not move running stats
                if weights and layer["name"] in weights:
                    for key, value in weights[layer["name"]].items():
                        getattr(module, key).data.copy_(torch.from_numpy(np.asarray(value)))
            with torch.no_grad():
                probe = [torch.zeros(1, *shapes[name]) for name in reads]
                shapes[layer["name"]] = tuple(self._apply(layer, probe).shape[1:])
            previous = layer["name"]
        self.shapes = shapes
        self.eval()

    @staticmethod
    def _key(layer: dict[str, Any]) -> str:
        return layer["name"].replace(".", "__")

    @staticmethod
    def _module(layer: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
        op, kw = layer["op"], _kwargs(layer)
        if op == "conv2d":
            return nn.Conv2d(shape[0], **kw)
        if op == "conv_transpose2d":
            return nn.ConvTranspose2d(shape[0], **kw)
        if op == "batch_norm2d":
            return nn.BatchNorm2d(shape[0], **kw)
        if op == "linear":
            return nn.Linear(shape[0], **kw)
        return None

    def _apply(self, layer: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
        op, kw = layer["op"], _kwargs(layer)
        if self._key(layer) in self.mods:
            return self.mods[self._key(layer)](xs[0])
        if op == "add":
            return torch.stack(xs).sum(0)
        if op == "concat":
            return torch.cat(xs, 1)
        x = xs[0]
        table = {"relu": torch.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                 "leaky_relu": lambda: F.leaky_relu(x, **kw), "dropout": lambda: x,
                 "flatten": lambda: torch.flatten(x, 1),
                 "max_pool2d": lambda: F.max_pool2d(x, **kw), "avg_pool2d": lambda: F.avg_pool2d(x, **kw),
                 "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(x, kw["output_size"]),
                 "interpolate": lambda: F.interpolate(x, **kw)}
        fn = table[op]
        return fn(x) if op in ("relu", "relu6", "sigmoid", "tanh") else fn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {"input": x}
        for layer in self.layers:
            values[layer["name"]] = self._apply(layer, [values[n] for n in self.reads[layer["name"]]])
        return values[self.layers[-1]["name"]]
