"""A relu or relu6 block's min and max follow from its input's (encoding.encode_stack's `clamped`): the same
numbers, the same codes, as when they are found from the maps themselves, and the pass is really saved."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from convscope.core import encoding
from convscope.core.encoding import encode_stack
from convscope.core.pipeline_run import PipelineRun, as_maps

LAYERS = [{"op": "conv2d", "kernel": "random", "seed": 3, "out_channels": 6, "padding": 1},
          {"op": "relu"},
          {"op": "conv2d", "kernel": "random", "seed": 4, "out_channels": 5, "padding": 1},
          {"op": "relu6"},
          {"op": "max_pool2d", "kernel_size": 2}]


@pytest.mark.parametrize("max_side", [256, 16])
@pytest.mark.parametrize("encoding_name", ["raw", "f32"])
def test_clamped_blocks_equal_blocks_measured_from_their_maps(max_side: int, encoding_name: str) -> None:
    pixels = np.random.default_rng(0).random((3, 40, 36), dtype=np.float32) * 8 - 2
    run = PipelineRun(pixels, LAYERS, max_side=max_side, encoding=encoding_name)
    got = [run.input_block()]
    outputs = []
    for i in range(len(run)):
        y, stats = run.compute(i)
        outputs.append(y)
        got.append(run.encode(i, y, stats))
    for i in (1, 3):  # relu, relu6: measured afresh from the same tensor
        fresh = encode_stack(as_maps(outputs[i][0]), max_side=max_side, encoding=encoding_name)
        block = got[i + 1].stack
        assert block.lo == fresh.lo and block.hi == fresh.hi
        assert all(a.data == b.data for a, b in zip(block.maps(), fresh.maps()))
        y = outputs[i][0].double()
        assert block.lo == y.amin(dim=(1, 2)).tolist() and block.hi == y.amax(dim=(1, 2)).tolist()
    assert max(got[4].stack.hi) <= 6 and min(got[2].stack.lo) >= 0


def test_the_clamped_range_skips_the_pass_over_the_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = encoding._channel_range
    monkeypatch.setattr(encoding, "_channel_range", lambda *a: calls.append(1) or real(*a))
    pixels = np.random.default_rng(1).random((3, 24, 24), dtype=np.float32)
    PipelineRun(pixels, LAYERS, max_side=64).blocks()
    assert len(calls) == 1 + len(LAYERS) - 2  # the input, both convs and the pool; not the relu nor the relu6


def test_a_non_finite_input_range_is_measured_again() -> None:
    m = torch.tensor([[[float("nan"), -1.0], [2.0, 3.0]]])
    source = encode_stack(m, max_side=8)
    assert not source.finite
    out = encode_stack(torch.relu(m), max_side=8, clamped=(source, 0.0, float("inf")))
    assert (out.lo, out.hi) == ([0.0], [3.0])
