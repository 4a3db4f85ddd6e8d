"""A batch norm's maps are made from its input's raw codes (pipeline_run.affine_stack): a per-channel a·x + b moves
each display mean with the map's min and max, so the codes are kept (a > 0), turned over (a < 0) or zeroed (a = 0).

Checked against the maps encoded from the values themselves: the same ends (up to float rounding), codes within one
step, and every decoded value within half a step of the exact display mean, as encode_stack promises."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convscope.core.encoding import decode_quantised, encode_stack
from convscope.core.layers.graph import walk
from convscope.core.pipeline import Plan
from convscope.core.pipeline_run import PipelineRun, affine_stack


def _block_means(x: np.ndarray, factor: int) -> np.ndarray:
    """The display means, written as loops over the blocks (the last row and column of blocks may be smaller)."""
    c, h, w = x.shape
    out = np.zeros((c, -(-h // factor), -(-w // factor)))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = x[:, i * factor:(i + 1) * factor, j * factor:(j + 1) * factor].mean(axis=(1, 2))
    return out


def _check(maps, exact: np.ndarray, factor: int) -> None:
    means = _block_means(exact, factor)
    for c, m in enumerate(maps):
        step = (m.max - m.min) / 255
        assert m.min == np.float32(exact[c].min()) or abs(m.min - exact[c].min()) <= 1e-5 * (1 + abs(exact[c].min()))
        assert abs(m.max - exact[c].max()) <= 1e-5 * (1 + abs(exact[c].max()))
        assert np.abs(decode_quantised(m) - means[c]).max() <= step * 0.5 + 1e-5 * (1 + np.abs(means[c]).max())


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), channels=st.integers(1, 6), side=st.integers(1, 19),
       max_side=st.integers(1, 24), signs=st.lists(st.sampled_from([-1.0, 0.0, 1.0]), min_size=6, max_size=6))
def test_affine_maps_match_the_maps_of_the_values(seed: int, channels: int, side: int, max_side: int,
                                                  signs: list[float]) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, side, side + 3)).astype(np.float32)
    if channels > 1:
        x[1] = 0.25  # a constant channel
    a = np.array(signs[:channels]) * rng.uniform(0.1, 4, channels)
    b = rng.uniform(-3, 3, channels)
    source = encode_stack(x, max_side=max_side)
    made = affine_stack(source, a, b)
    assert made is not None
    y = (a[:, None, None] * x.astype(np.float64) + b[:, None, None]).astype(np.float32)
    direct = encode_stack(y, max_side=max_side)
    assert (made.width, made.height, made.factor) == (direct.width, direct.height, direct.factor)
    codes, want = made.planes.astype(int), direct.planes.astype(int)
    assert np.abs(codes - want).max() <= 1
    _check(made.maps(), y.astype(np.float64), made.factor)


def test_affine_maps_are_refused_where_they_cannot_be_made() -> None:
    x = np.random.default_rng(0).standard_normal((2, 5, 5)).astype(np.float32)
    a, b = np.array([1.0, -1.0]), np.zeros(2)
    assert affine_stack(encode_stack(x, max_side=8, encoding="png"), a, b) is None
    assert affine_stack(encode_stack(x, max_side=8, encoding="f32"), a, b) is None
    x[0, 0, 0] = np.inf
    assert affine_stack(encode_stack(x, max_side=8), a, b) is None  # not every value was finite
    assert affine_stack(encode_stack(x[1:], max_side=8), np.array([1e308]), np.array([1e308])) is None


def test_a_networks_batch_norms_with_negative_and_zero_scales() -> None:
    """Through the pipeline: a conv then a batch norm whose γ has every sign, raw maps against the maps encoded from
    torch's own batch norm of the conv's output."""
    layers = [{"op": "conv2d", "name": "conv", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1},
              {"op": "batch_norm2d", "name": "bn", "num_features": 4}]
    shape = (3, 21, 17)
    rng = np.random.default_rng(5)
    weights = {"conv": {"weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)},
               "bn": {"weight": np.array([2.0, -0.5, 0.0, 1.0], np.float32),
                      "bias": np.array([0.3, -1.0, 4.0, 0.0], np.float32),
                      "running_mean": np.array([0.1, -0.2, 0.0, 3.0], np.float32),
                      "running_var": np.array([0.5, 2.0, 1.0, 9.0], np.float32)}}
    plan = Plan(shape, walk(list(shape), layers), layers, weights)
    pixels = rng.random(shape, dtype=np.float32)
    for max_side in (21, 8):
        blocks = PipelineRun(pixels, None, plan=plan, max_side=max_side).blocks()
        conv = torch.nn.functional.conv2d(torch.from_numpy(pixels)[None], torch.from_numpy(weights["conv"]["weight"]),
                                          padding=1)
        bn = weights["bn"]
        want = torch.nn.functional.batch_norm(conv, *(torch.from_numpy(bn[k]) for k in ("running_mean", "running_var",
                                                                                          "weight", "bias")))[0]
        got = blocks[2].stack
        direct = encode_stack(want, max_side=max_side)
        assert np.abs(got.planes.astype(int) - direct.planes.astype(int)).max() <= 1
        assert got.lo[2] == got.hi[2] == 4.0  # γ = 0: the map is β everywhere
        _check(got.maps(), want.double().numpy(), got.factor)
