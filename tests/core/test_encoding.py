"""Feature-map encoding (server/core/encoding.py): min/max from the full map, block means, uint8 codes,
raw, PNG and float32, contiguous and channels-last maps, against plain-loop oracles."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from convscope.core.encoding import decode_quantised, encode_feature_maps
from convscope.core.exceptions import InvalidRequest


@settings(max_examples=40, deadline=None)
@given(channels=st.integers(1, 4), height=st.integers(1, 70), width=st.integers(1, 70),
       max_side=st.integers(1, 80), seed=st.integers(0, 2**32 - 1), encoding=st.sampled_from(["raw", "png"]))
def test_encoding_round_trip_within_one_step(channels: int, height: int, width: int, max_side: int,
                                             seed: int, encoding: str) -> None:
    x = np.random.default_rng(seed).normal(size=(channels, height, width)) * 10
    maps = encode_feature_maps(x, max_side=max_side, encoding=encoding)  # type: ignore[arg-type]
    factor = -(-max(height, width) // max_side)
    for c, m in enumerate(maps):
        assert (m.channel, m.factor, m.full_width, m.full_height) == (c, factor, width, height)
        assert (m.height, m.width) == (-(-height // factor), -(-width // factor))
        assert max(m.width, m.height) <= max_side and m.scale == 1 / factor
        assert (m.min, m.max) == (x[c].min(), x[c].max())
        reference = _block_means(x[c], factor)
        assert np.abs(decode_quantised(m) - reference).max() <= (m.max - m.min) / 255 + 1e-9


def _block_means(plane: np.ndarray, f: int) -> np.ndarray:
    """Plain-loop area average, the oracle for the vectorised downsampler."""
    h, w = plane.shape
    out = np.empty((-(-h // f), -(-w // f)))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = plane[i * f:(i + 1) * f, j * f:(j + 1) * f].mean()
    return out


def test_constant_maps_encode_as_zeros() -> None:
    maps = encode_feature_maps(np.full((2, 5, 7), 3.5, np.float32), max_side=100)
    assert all(m.min == m.max == 3.5 and m.data == bytes(35) for m in maps)
    np.testing.assert_array_equal(decode_quantised(maps[0]), 3.5)


def test_min_max_come_from_full_resolution() -> None:
    x = np.zeros((1, 100, 100), np.float32)
    x[0, 50, 50] = 9.0  # a spike that averaging at factor 4 dilutes to 9/16
    (m,) = encode_feature_maps(x, max_side=25)
    assert (m.width, m.height, m.factor, m.max) == (25, 25, 4, 9.0)
    assert decode_quantised(m).max() == pytest.approx(9 / 16, abs=9 / 255)


def test_raw_and_png_carry_the_same_codes_and_json_form() -> None:
    x = np.random.default_rng(1).random((3, 33, 20)).astype(np.float32)
    raw, png = (encode_feature_maps(x, max_side=16, encoding=e) for e in ("raw", "png"))
    for r, p in zip(raw, png):
        assert p.data.startswith(b"\x89PNG") and len(r.data) == r.width * r.height == 11 * 7
        with Image.open(io.BytesIO(p.data)) as im:
            assert im.mode == "L" and np.asarray(im).tobytes() == r.data
    d = raw[0].as_dict()
    assert set(d) >= {"channel", "width", "height", "factor", "scale", "min", "max", "encoding", "data"}
    assert isinstance(d["data"], str)


def test_non_finite_values_are_clipped_not_propagated() -> None:
    x = np.array([[[0.0, 1.0, np.inf], [-np.inf, np.nan, 0.5]], [[np.nan] * 3] * 2])
    maps = encode_feature_maps(x, max_side=8)
    assert (maps[0].min, maps[0].max) == (0.0, 1.0) and (maps[1].min, maps[1].max) == (0.0, 0.0)
    assert list(maps[0].data) == [0, 255, 255, 0, 0, 128]


@pytest.mark.parametrize(("x", "kwargs"), [
    pytest.param(np.zeros((1, 2, 3, 4)), {"max_side": 8}, id="rank-4"),
    pytest.param(np.zeros((0, 4, 4)), {"max_side": 8}, id="empty"),
    pytest.param(np.zeros((1, 4, 4)), {"max_side": 8, "encoding": "jpeg"}, id="bad-encoding"),
    pytest.param(np.zeros((1, 4, 4)), {"max_side": 0}, id="bad-max-side"),
])
def test_encoding_rejects_bad_arguments(x: np.ndarray, kwargs: dict) -> None:
    with pytest.raises(InvalidRequest):
        encode_feature_maps(x, **kwargs)


@settings(max_examples=30, deadline=None)
@given(channels=st.integers(2, 5), height=st.integers(1, 40), width=st.integers(1, 40), max_side=st.integers(1, 50),
       seed=st.integers(0, 2**32 - 1), encoding=st.sampled_from(["raw", "png", "f32"]))
def test_channels_last_maps_encode_exactly_as_contiguous_ones(channels: int, height: int, width: int, max_side: int,
                                                               seed: int, encoding: str) -> None:
    import torch

    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(1, channels, height, width)).astype(np.float32))
    cl = x.contiguous(memory_format=torch.channels_last)[0]
    assert cl.stride(0) == 1 or height * width == 1
    for a, b in zip(encode_feature_maps(x[0], max_side=max_side, encoding=encoding),  # type: ignore[arg-type]
                    encode_feature_maps(cl, max_side=max_side, encoding=encoding), strict=True):  # type: ignore[arg-type]
        assert (a.width, a.height, a.factor, a.min, a.max) == (b.width, b.height, b.factor, b.min, b.max)
        assert np.abs(decode_quantised(a) - decode_quantised(b)).max() <= (a.max - a.min) / 255 + 1e-6


@settings(max_examples=40, deadline=None)
@given(channels=st.integers(1, 4), side=st.integers(1, 30), seed=st.integers(0, 2**32 - 1),
       offset=st.sampled_from([0.0, 1.0, -50.0, 1e3, 1e5, -1e7]), spread=st.sampled_from([1e-4, 1e-2, 1.0, 100.0]))
def test_float32_codes_stay_within_one_step_far_from_zero(channels: int, side: int, seed: int, offset: float,
                                                          spread: float) -> None:
    """Maps whose values sit far from zero for their span (the fused multiply-add would lose whole steps there)
    still get codes within one step of round((v - min) · 255 / (max - min)), from the float32 values themselves."""
    import torch

    x32 = (offset + np.random.default_rng(seed).normal(size=(channels, side, side)) * spread).astype(np.float32)
    for channel in range(channels):
        plane = x32[channel].astype(np.float64)
        lo, hi = plane.min(), plane.max()
        (m,) = encode_feature_maps(torch.from_numpy(x32[channel:channel + 1].copy()), max_side=side)
        assert (m.min, m.max) == (lo, hi)
        exact = np.floor((plane - lo) * (255 / (hi - lo)) + 0.5) if hi > lo else np.zeros_like(plane)
        codes = np.frombuffer(m.data, np.uint8).reshape(side, side).astype(np.int64)
        assert np.abs(codes - exact).max() <= 1, (offset, spread)
