"""One small, valid request body per JSON endpoint, published as the OpenAPI `examples` of its body.

Each posts unchanged and answers 200 (tests/fuzz/test_examples.py); the numbers are small integers,
so the float64 answers are exact.
"""
from __future__ import annotations

from typing import Any

_IMAGE_3x3 = [[[[1, 2, 0], [0, 1, 3], [2, 2, 1]]]]
_IMAGE_4x4 = [[[[1, 3, 2, 9], [7, 4, 1, 5], [8, 5, 2, 3], [4, 2, 1, 4]]]]
_SIGNAL = [[[1, 3, 2, 9, 7, 4]]]

OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "conv1d": ("A 3-tap kernel with padding 1, and the gradients for an all-ones grad_output",
               {"input": _SIGNAL, "weight": [[[1, 0, -1]]], "bias": [0.5], "padding": 1,
                "grad_output": [[[1, 1, 1, 1, 1, 1]]]}),
    "conv2d": ("A 2×2 kernel on a 3×3 input with padding 1, with the trace, im2col and Toeplitz matrix",
               {"input": _IMAGE_3x3, "weight": [[[[1, 0], [0, -1]]]], "bias": [0.5], "padding": 1,
                "extras": ["trace", "im2col", "toeplitz"]}),
    "conv_transpose1d": ("Stride 2 spreads the three inputs apart",
                         {"input": [[[1, 2, 3]]], "weight": [[[1, 1]]], "stride": 2}),
    "conv_transpose2d": ("Stride 2 with output_padding 1 (smaller than the stride)",
                         {"input": [[[[1, 2], [3, 4]]]], "weight": [[[[1, 0], [0, 1]]]], "stride": 2,
                          "output_padding": 1}),
    "max_pool1d": ("Windows of 2, stride 2 (the default)", {"input": _SIGNAL, "kernel_size": 2}),
    "max_pool2d": ("2×2 windows; indices are flat positions in each input plane",
                   {"input": _IMAGE_4x4, "kernel_size": 2}),
    "avg_pool1d": ("Windows of 3, stride 2, padding 1, the padding left out of each divisor",
                   {"input": _SIGNAL, "kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    "avg_pool2d": ("3×3 windows, stride 2, with ceil_mode keeping the last partial window",
                   {"input": _IMAGE_4x4, "kernel_size": 3, "stride": 2, "ceil_mode": True}),
    "max_unpool1d": ("Undoes max_pool1d's example: each maximum back at its index",
                     {"input": [[[3, 9, 7]]], "indices": [[[1, 3, 4]]], "kernel_size": 2}),
    "max_unpool2d": ("Undoes max_pool2d's example: each maximum back at its index",
                     {"input": [[[[7, 9], [8, 4]]]], "indices": [[[[4, 3], [8, 15]]]], "kernel_size": 2}),
    "interpolate": ("Bilinear upsampling by 2", {"input": [[[[1, 2], [3, 4]]]], "scale_factor": 2, "mode": "bilinear",
                                                 "align_corners": False}),
}

_LECTURE = {"input_shape": [1, 5, 5], "layers": [
    {"op": "conv2d", "name": "conv1", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1},
    {"op": "conv2d", "name": "conv2", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1}]}

ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "shapes": ("A convolution, a pooling layer and a linear head",
               {"input_shape": [3, 32, 32], "layers": [
                   {"op": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"op": "relu"},
                   {"op": "max_pool2d", "kernel_size": 2}, {"op": "flatten"}, {"op": "linear", "out_features": 10}]}),
    "receptive-field": ("The lecture's two convolutions, one unit's region and its effective field",
                        _LECTURE | {"unit": {"layer": 2, "y": 1, "x": 1}, "effective": {"weights": "constant"}}),
    "exercises": ("An output-shape exercise", {"kind": "conv_output_shape", "seed": 42, "difficulty": 2}),
    "exercises/grade": ("A wrong answer (rounded up), with the expected one revealed",
                        {"kind": "conv_output_shape", "seed": 42, "difficulty": 2, "answer": [2, 8, 3, 11],
                         "reveal": True}),
    "views/backprop": ("conv2d's backward pass on a 4×4 input, grad_output from seed 7926",
                       {"op": "conv2d", "input": [[[[1, 2, 0, 1], [3, -1, 2, 0], [0, 1, 1, 2], [2, 0, -2, 1]]]],
                        "weight": [[[[1, 0], [-1, 2]]]], "bias": [0], "stride": 1, "grad_seed": 7926}),
    "views/pool": ("The lecture's 4×4 input pooled 2×2, unpooled and upsampled",
                   {"input": [[[[1, 3, 2, 9], [7, 4, 1, 5], [8, 5, 2, 3], [4, 2, 1, 4]]]], "kernel_size": 2,
                    "scale_factor": 2}),
    "views/receptive-field": ("A residual block's unit and its field on every level, through each path",
                              {"input_shape": [1, 12, 12], "layers": [
                                  {"op": "conv2d", "name": "a", "out_channels": 2, "kernel_size": 3, "padding": 1},
                                  {"op": "conv2d", "name": "b", "out_channels": 2, "kernel_size": 3, "padding": 1},
                                  {"op": "add", "name": "sum", "inputs": ["a", "b"]}],
                               "unit": {"layer": 3, "y": 5, "x": 6}, "effective": True}),
    "views/transpose": ("conv_transpose2d's example as a direct convolution",
                        {"input": [[[[1, 2], [3, 4]]]], "weight": [[[[1, 0], [0, 1]]]], "stride": 2,
                         "output_padding": 1}),
}


def openapi_examples(summary: str, value: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """FastAPI's `Body(openapi_examples=...)` form of one example."""
    return {"example": {"summary": summary, "value": value}}


def for_op(op: str) -> dict[str, dict[str, Any]]:
    return openapi_examples(*OPS[op])


def for_endpoint(name: str) -> dict[str, dict[str, Any]]:
    return openapi_examples(*ENDPOINTS[name])
