"""The image lab's own parameters, its defaults where they differ from torch's, the layer each kind starts as
in the lab's editor, and the lab's presets: one table, published on every entry of GET /api/v1/layers
(`lab`, `lab_new`) and at GET /api/v1/pipeline/presets, and read by pipeline.py's checks.

A `lab` parameter whose name is also one of the registry's replaces the registry's entry in the lab (a
pool's kernel_size defaults to 2 there; a lab convolution has no bias); the others are the lab's own
(kernel, seed, mode, true_convolution, training, running_mean / running_var, from).
"""
from __future__ import annotations

import copy
from typing import Any

from .kernels import MODES
from .layers.table import LAYER_TABLE, MERGE_OPS, _p

SEED_MAX = 2**32 - 1
_MAX = 1_000_000
KERNEL_MODES = list(MODES)
DEFAULT_KERNEL = "identity"  # a conv without kernel (and without kernel_size) passes its input through
BANK_KERNEL = "random"  # a registry-style bank (kernel_size, no kernel) gets seeded random filters
RANDOM_SIDE = 3  # a random kernel's side without kernel_size


def _conv() -> list[dict[str, Any]]:
    kernel = _p("kernel", "kernel", DEFAULT_KERNEL,
           'the 2-D kernel: a name (GET /api/v1/kernels), {"name", "params"}, {"custom": [[...]]} up to 11×11, '
           f'or "random" with seed; default {DEFAULT_KERNEL}, or {BANK_KERNEL} when kernel_size is given without it')
    kernel["bank_default"] = BANK_KERNEL
    return [
        kernel,
        _p("seed", "int", 0, "the random kernel's seed", range_=[0, SEED_MAX]),
        _p("mode", "string", "per_channel", "without out_channels: per_channel applies the kernel to each channel "
           "(depthwise, groups = C), shared to the mean of the channels (one map)", choices=KERNEL_MODES),
        _p("true_convolution", "bool", False, "flip the kernel (torch computes cross-correlation)"),
        _p("out_channels", "int or null", None, "a bank of this many filters over in/groups channels each; "
           "without it, mode decides", range_=[1, _MAX]),
        _p("kernel_size", "int or [h, w] or null", None, f"a random kernel's size (default {RANDOM_SIDE}); "
           "a named or custom kernel brings its own", range_=[1, _MAX]),
        _p("groups", "int or null", None, "with out_channels: splits the channels into groups (default 1); "
           "without, mode decides", range_=[1, _MAX]),
        _p("bias", "bool", False, "a lab convolution has no bias: its weights are the kernel's", choices=[False]),
    ]


LAB_TABLE: dict[str, list[dict[str, Any]]] = {
    "conv2d": _conv(),
    "conv_transpose2d": _conv(),
    "batch_norm2d": [
        _p("training", "bool", True, "normalise by this image's own statistics (train mode); false: by the "
           "running statistics (eval mode)"),
        _p("running_mean", "number or list", 0.0, "eval mode's mean: one number, or one per channel",
           range_=[-1e6, 1e6]),
        _p("running_var", "number or list", 1.0, "eval mode's variance: one number, or one per channel",
           range_=[0.0, 1e6]),
    ],
    "max_pool2d": [_p("kernel_size", "int or [h, w]", 2, "window size; the lab's default 2", range_=[1, _MAX])],
    "avg_pool2d": [_p("kernel_size", "int or [h, w]", 2, "window size; the lab's default 2", range_=[1, _MAX])],
    "max_unpool2d": [
        _p("from", "int or string or null", None, "the index or name of the max_pool2d whose indices it uses; "
           "default the latest one not yet unpooled (which also gives kernel_size, stride and padding)"),
    ],
    "linear": [
        _p("seed", "int", 0, "its seeded random weights (out × in, scaled by 1/√in)", range_=[0, SEED_MAX]),
        _p("bias", "bool", False, "a lab linear layer has no bias", choices=[False]),
    ],
}

#: what the editor's "+ layer" menu adds: the op plus what a starting layer needs (merges get their inputs there)
LAB_NEW: dict[str, dict[str, Any]] = {
    "conv2d": {"op": "conv2d", "kernel": "sobel_x", "padding": 1},
    "conv_transpose2d": {"op": "conv_transpose2d", "kernel": "box", "stride": 2},
    "interpolate": {"op": "interpolate", "scale_factor": 2},
    "linear": {"op": "linear", "out_features": 10},
    "adaptive_avg_pool2d": {"op": "adaptive_avg_pool2d", "output_size": 4},
}

#: the lab's own parameter names per op (not the registry's): validation takes these beside LAYER_KEYS
LAB_PARAMS: dict[str, frozenset[str]] = {
    op: frozenset(p["name"] for p in params) - {p["name"] for p in LAYER_TABLE[op]["params"]}
    for op, params in LAB_TABLE.items()}


def lab_param(op: str, name: str) -> dict[str, Any]:
    """One lab parameter's entry in the table (StopIteration: not in it, a programming error)."""
    return next(p for p in LAB_TABLE[op] if p["name"] == name)


def lab_default(op: str, name: str) -> Any:
    return lab_param(op, name)["default"]


def lab_range(op: str, name: str) -> list[Any]:
    return lab_param(op, name)["range"]


def lab_meaning(op: str, name: str) -> str:
    return lab_param(op, name)["meaning"]


def published_lab(op: str) -> dict[str, Any]:
    """The lab's additions to one GET /api/v1/layers entry."""
    return {"lab": copy.deepcopy(LAB_TABLE.get(op, [])),
            "lab_new": copy.deepcopy(LAB_NEW.get(op, {"op": op, **({"inputs": []} if op in MERGE_OPS else {})}))}


def _preset(title: str, *layers: dict[str, Any]) -> dict[str, Any]:
    return {"title": title, "layers": list(layers)}


_C = "conv2d"
LAB_PRESETS: list[dict[str, Any]] = [
    _preset("edges: Sobel x, relu, max pool 2",
            {"op": _C, "kernel": "sobel_x", "mode": "shared", "padding": 1}, {"op": "relu"},
            {"op": "max_pool2d", "kernel_size": 2}),
    _preset("blur: Gaussian 5×5, σ = 2", {"op": _C, "kernel": {"name": "gaussian", "params": {"size": 5, "sigma": 2}},
                                          "padding": 2}),
    _preset("conv 3→16 random, relu, max pool 2",
            {"op": _C, "kernel": "random", "seed": 0, "out_channels": 16, "padding": 1}, {"op": "relu"},
            {"op": "max_pool2d", "kernel_size": 2}),
    _preset("dilation 1, 2, 4 (fields 3, 7, 15)",
            {"op": _C, "kernel": "box", "mode": "shared", "padding": 1},
            {"op": _C, "kernel": "box", "dilation": 2, "padding": 2},
            {"op": _C, "kernel": "box", "dilation": 4, "padding": 4}),
    _preset("stride 2, no padding", {"op": _C, "kernel": "sobel_y", "mode": "shared", "stride": 2}),
    _preset("grouped: 6 filters in 3 groups",
            {"op": _C, "kernel": "random", "seed": 3, "out_channels": 6, "groups": 3, "padding": 1}),
    _preset("batch norm (train) then relu",
            {"op": _C, "kernel": "random", "seed": 1, "out_channels": 4, "padding": 1},
            {"op": "batch_norm2d", "training": True}, {"op": "relu"}),
    _preset("pool, then unpool with its indices", {"op": "max_pool2d", "kernel_size": 4},
            {"op": "max_unpool2d", "from": 0}),
    _preset("encoder-decoder",
            {"op": _C, "kernel": "random", "seed": 2, "out_channels": 8, "padding": 1}, {"op": "relu"},
            {"op": "max_pool2d", "kernel_size": 2},
            {"op": "conv_transpose2d", "kernel": "random", "seed": 4, "out_channels": 3, "kernel_size": 2,
             "stride": 2}),
    _preset("upsample ×2, bilinear", {"op": "interpolate", "scale_factor": 2, "mode": "bilinear"}),
    _preset("residual: conv, relu, conv, add the input",
            {"op": _C, "name": "conv1", "kernel": "sobel_x", "padding": 1}, {"op": "relu", "name": "relu1"},
            {"op": _C, "name": "conv2", "kernel": "laplacian", "padding": 1},
            {"op": "add", "name": "sum", "inputs": ["conv2", "input"]}),
    _preset("circular padding: the field wraps",
            {"op": _C, "kernel": "box", "mode": "shared", "padding": 3, "dilation": 3, "padding_mode": "circular"}),
]


def lab_presets() -> list[dict[str, Any]]:
    return copy.deepcopy(LAB_PRESETS)
