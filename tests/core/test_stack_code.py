"""The stack written as PyTorch (the /receptive-field response's `pytorch`): it runs, every module's output
has the shape the walk computed, and merges, unpooling and odd layer names come out as valid Python."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from convscope.core.layers import walk
from convscope.core.presets import list_presets
from convscope.core.receptive import input_shape_of
from convscope.core.stack_code import stack_code


def run(input_shape: list[int], layers: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    code = stack_code(input_shape, layers)
    scope: dict[str, Any] = {}
    exec(compile(code, "<stack code>", "exec"), scope)  # noqa: S102 - code this module generated
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str) -> Any:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            shapes[name] = tuple((output[0] if isinstance(output, tuple) else output).shape)
        return hook

    for name, module in scope["net"].named_children():
        module.register_forward_hook(record(name))
    with torch.no_grad():
        scope["y"] = scope["net"](scope["x"])
    return scope, shapes


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p["id"])
def test_every_preset_runs_with_the_walks_shapes(preset):
    shape = list(input_shape_of(preset["input_size"], None, preset["layers"]))
    scope, shapes = run(shape, preset["layers"])
    stack = walk(shape, preset["layers"])
    assert tuple(scope["y"].shape) == (1, *stack[-1].output_shape)
    assert {name: s[1:] for name, s in shapes.items()} == {layer.name: layer.output_shape for layer in stack}


def test_inferred_arguments_are_written_out():
    layers = [{"op": "conv2d", "out_channels": 8, "kernel_size": 3}, {"op": "batch_norm2d"},
              {"op": "interpolate", "scale_factor": 2}, {"op": "flatten"}, {"op": "linear", "out_features": 10}]
    code = stack_code([3, 8, 8], layers)
    assert "nn.Conv2d(3, 8, kernel_size=3)" in code
    assert "nn.BatchNorm2d(8)" in code
    assert "nn.Upsample(scale_factor=2)" in code
    assert "nn.Linear(1152, 10)" in code  # 8·12·12 after flatten
    scope, _ = run([3, 8, 8], layers)
    assert tuple(scope["y"].shape) == (1, 10)


def test_a_network_with_merges_unpooling_and_awkward_names():
    layers = [{"op": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1, "name": "stem-1"},
              {"op": "max_pool2d", "kernel_size": 2, "name": "x"},
              {"op": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same", "name": "class"},
              {"op": "add", "inputs": ["x", "class"], "name": "sum"},
              {"op": "max_unpool2d", "kernel_size": 2, "name": "2up"},
              {"op": "concat", "inputs": ["2up", "stem-1"]},
              {"op": "max_unpool2d", "kernel_size": 2, "input": "cat1", "name": "lonely"},
              {"op": "conv2d", "out_channels": 1, "kernel_size": 1}]
    scope, shapes = run([1, 8, 8], layers)
    stack = walk([1, 8, 8], layers)
    assert tuple(scope["y"].shape) == (1, 1, 16, 16)
    assert len(shapes) == sum(layer.op not in ("add", "concat") for layer in stack)
    code = stack_code([1, 8, 8], layers)
    assert "return_indices=True" in code  # the pool the first unpool mirrors hands over its indices
    assert "torch.cat([l_2up, stem_1], dim=1)" in code
    # the unpaired unpool puts each value in its window's first cell, as the effective field does
    out = scope["net"](torch.ones(1, 1, 8, 8))
    assert out.shape == (1, 1, 16, 16)
