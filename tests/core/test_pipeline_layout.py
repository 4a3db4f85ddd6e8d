"""The lab's pipeline computes in the real channels-last layout whatever the layout of the pixels it is given.

Pixels decoded as H×W×C and seen as C×H×W (`arr.transpose(2, 0, 1)`, as a grader's notebook writes them) carry
channels-last strides with a batch stride of 3 once batched; torch's CPU convolution does not take that as
channels-last and runs its slow contiguous path (a 512² conv 3→16 several times slower)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from convscope.core.pipeline_run import PipelineRun
from convscope.core.probe import probe

LAYERS = [{"op": "conv2d", "kernel": "random", "seed": 3, "out_channels": 16, "padding": 1}, {"op": "relu"}]


def _channels_last(t: torch.Tensor) -> bool:
    n, c, h, w = t.shape
    return t.stride() == (c * h * w, 1, w * c, c)


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_the_input_and_the_conv_output_are_channels_last(layout: str) -> None:
    hwc = np.random.default_rng(0).random((12, 10, 3), dtype=np.float32)
    pixels = hwc.transpose(2, 0, 1) if layout == "transposed" else np.ascontiguousarray(hwc.transpose(2, 0, 1))
    run = PipelineRun(pixels, LAYERS, max_side=16)
    x, _ = run.compute(-1)
    y, _ = run.compute(0)
    assert _channels_last(x) and _channels_last(y)
    expected = torch.nn.functional.conv2d(torch.from_numpy(np.ascontiguousarray(pixels))[None],
                                          torch.from_numpy(np.asarray(next(iter(run.plan.weights.values()))["weight"])), padding=1)
    torch.testing.assert_close(y.contiguous(), expected, rtol=1e-5, atol=1e-5)


def test_the_probe_reads_transposed_pixels_as_their_values() -> None:
    hwc = np.random.default_rng(1).random((9, 9, 3), dtype=np.float32)
    a = probe(hwc.transpose(2, 0, 1), LAYERS, {"layer": 1, "channel": 2, "y": 4, "x": 4})
    b = probe(np.ascontiguousarray(hwc.transpose(2, 0, 1)), LAYERS, {"layer": 1, "channel": 2, "y": 4, "x": 4})
    assert a == b
