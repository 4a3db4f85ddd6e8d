"""A stack or network of named layers written as runnable PyTorch: one `torch.nn.Module` whose constructor
holds each layer with the arguments the shape walk inferred (in_channels, in_features, num_features), and
whose forward reads the entries each layer names (add: `+`, concat: `torch.cat` on channels).

max_unpool2d takes the indices of the latest unpaired max_pool2d when the shapes match (that pool then
returns its indices), and otherwise the first cell of each window, as the effective field does; it is
given its output_size in the forward call, where torch takes it.
"""
from __future__ import annotations

import keyword
import re
from typing import Any

from .layers import Layer, walk

_MODULES = {"conv2d": "nn.Conv2d", "conv_transpose2d": "nn.ConvTranspose2d", "max_pool2d": "nn.MaxPool2d",
            "avg_pool2d": "nn.AvgPool2d", "max_unpool2d": "nn.MaxUnpool2d", "interpolate": "nn.Upsample",
            "relu": "nn.ReLU", "relu6": "nn.ReLU6", "leaky_relu": "nn.LeakyReLU", "sigmoid": "nn.Sigmoid",
            "tanh": "nn.Tanh", "batch_norm2d": "nn.BatchNorm2d", "dropout": "nn.Dropout", "flatten": "nn.Flatten",
            "linear": "nn.Linear", "adaptive_avg_pool2d": "nn.AdaptiveAvgPool2d"}
_INFERRED = ("in_channels", "in_features", "num_features")
_TAKEN = {"x", "self", "torch", "nn", "net", "y", "idx"}


def py(value: Any) -> str:
    """A JSON value as a Python literal (lists become tuples, as torch's size arguments are written)."""
    if isinstance(value, list):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return repr(value)
    return repr(value)  # None, True, False, numbers


def _identifiers(stack: list[Layer]) -> dict[str, str]:
    """Each layer name as a Python identifier, unique and clear of the names the code itself uses."""
    out: dict[str, str] = {"input": "x"}
    used = set(_TAKEN)
    for layer in stack:
        base = re.sub(r"\W", "_", layer.name) or "layer"
        if base[0].isdigit():
            base = f"l_{base}"
        ident, k = base, 1
        while ident in used or keyword.iskeyword(ident):
            k += 1
            ident = f"{base}_{k}"
        used.add(ident)
        out[layer.name] = ident
    return out


def _constructor(layer: Layer) -> str:
    args = {k: v for k, v in layer.args.items() if k not in _INFERRED}
    positional: list[str] = []
    if layer.op in ("conv2d", "conv_transpose2d"):
        positional = [str(layer.input_shape[0]), str(args.pop("out_channels"))]
    elif layer.op == "batch_norm2d":
        positional = [str(layer.input_shape[0])]
    elif layer.op == "linear":
        positional = [str(layer.input_shape[-1]), str(args.pop("out_features"))]
    elif layer.op == "max_unpool2d":
        args.pop("output_size", None)  # a forward argument in torch
    parts = positional + [f"{k}={py(v)}" for k, v in args.items()]
    return f"{_MODULES[layer.op]}({', '.join(parts)})"


def _pairs(stack: list[Layer]) -> dict[int, int]:
    """unpool index -> the index of the max_pool2d whose indices it uses (the effective field's rule)."""
    pools: list[int] = []
    pairs: dict[int, int] = {}
    for i, layer in enumerate(stack):
        if layer.op == "max_pool2d":
            pools.append(i)
        elif layer.op == "max_unpool2d" and pools:
            pool = stack[pools.pop()]
            if pool.output_shape == layer.input_shape and pool.input_shape[1:] == layer.output_shape[1:]:
                pairs[i] = pool.index
    return pairs


def stack_code(input_shape: Any, layers: Any) -> str:
    """Runnable PyTorch for the stack on a zero input of input_shape ([C, H, W]); `y` is its output."""
    stack = walk(input_shape, layers)
    names = _identifiers(stack)
    pairs = _pairs(stack)
    indexed = set(pairs.values())
    init: list[str] = []
    forward: list[str] = []
    for i, layer in enumerate(stack):
        me = names[layer.name]
        ins = [names[n] for n in layer.inputs]
        if layer.op == "add":
            forward.append(f"{me} = {' + '.join(ins)}")
            continue
        if layer.op == "concat":
            forward.append(f"{me} = torch.cat([{', '.join(ins)}], dim=1)")
            continue
        ctor = _constructor(layer)
        if i in indexed and not layer.args.get("return_indices"):
            ctor = ctor[:-1] + (", " if ctor[-2] != "(" else "") + "return_indices=True)"
        init.append(f"self.{me} = {ctor}")
        if layer.op == "max_pool2d" and (i in indexed or layer.args.get("return_indices")):
            forward.append(f"{me}, {me}_idx = self.{me}({ins[0]})")
        elif layer.op == "max_unpool2d":
            size = py(list(layer.output_shape[1:]))
            if i in pairs:
                forward.append(f"{me} = self.{me}({ins[0]}, {names[stack[pairs[i]].name]}_idx, output_size={size})")
            else:  # no matching pool: the first cell of each window
                (_, h, w), spec = layer.input_shape, layer.spec
                oh, ow = layer.output_shape[1:]
                forward += [f"rows = (torch.arange({h}) * {spec.stride[0]} - {spec.padding[0]}).clamp(0, {oh - 1})",
                            f"cols = (torch.arange({w}) * {spec.stride[1]} - {spec.padding[1]}).clamp(0, {ow - 1})",
                            f"{me}_at = (rows[:, None] * {ow} + cols[None, :]).expand_as({ins[0]})"
                            "  # no max_pool2d to take indices from",
                            f"{me} = self.{me}({ins[0]}, {me}_at, output_size={size})"]
        else:
            forward.append(f"{me} = self.{me}({ins[0]})")
    last = names[stack[-1].name] if stack else "x"
    c, h, w = (int(v) for v in input_shape)
    out = "×".join(str(v) for v in (1, *(stack[-1].output_shape if stack else input_shape)))
    lines = ["import torch", "import torch.nn as nn", "", "", "class Net(nn.Module):", "    def __init__(self):",
             "        super().__init__()", *(f"        {s}" for s in init), "",
             "    def forward(self, x):", *(f"        {s}" for s in forward), f"        return {last}", "", "",
             "net = Net().eval()",
             f"x = torch.zeros(1, {c}, {h}, {w})  # the receptive field does not depend on the values",
             f"y = net(x)  # {out}"]
    return "\n".join(lines) + "\n"
