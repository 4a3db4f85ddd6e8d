"""Translation equivariance: for random images and kernels, the shifted conv equals the conv shifted in the
interior and fails in the border band (padding and incoming zeros), as equivariance.py says; stride keeps it
only for multiples of the stride; max pooling is partly invariant; rotation and scaling break it except for
the kernels they leave unchanged; the shift path's frames carry the maps the page draws."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from convscope.app import create_app
from convscope.core.equivariance import (KERNEL, conv_shift_error, measure, rotation_difference, scale_difference,
                                         shift, shift_path, strided_shift_error)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), dy=st.integers(-3, 3), dx=st.integers(-3, 3), k=st.sampled_from([1, 3, 5]))
def test_shifted_conv_equals_conv_shifted_in_the_interior(seed, dy, dx, k):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, 20, 20, dtype=torch.float64, generator=g) + 0.5  # no zeros: the border must differ
    w = torch.rand(1, 1, k, k, dtype=torch.float64, generator=g) + 0.5
    result = conv_shift_error(x, w, dy, dx)
    assert result["interior_max_error"] < 1e-12
    if (dy or dx) and k > 1:  # a 1×1 kernel reads no neighbour: it commutes with the shift everywhere
        assert result["border_max_error"] > 1e-3  # the border band is where the docs say it breaks


def test_stride_rotation_scaling_and_pooling():
    r = measure("camera", 64, 2, 3, 2)
    assert r["conv"]["interior_max_error"] < 1e-12 and r["conv"]["border_max_error"] > 0
    for s in r["strided"]:
        assert (s["interior_max_error"] < 1e-12) == s["multiple_of_stride"], s
    assert r["rotation_90"]["interior_max_error"] > 1e-3 and r["scale_0_5"]["interior_max_error"] > 1e-3


def test_api_envelope():
    client = TestClient(create_app())
    assert client.post("/api/v1/equivariance", json={}).status_code == 200
    bad = client.post("/api/v1/equivariance", json={"sample": "nope"})
    assert bad.status_code == 422 and "There is no sample" in bad.json()["error"]


def _image(seed: int, size: int = 24) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 10, (1, 1, size, size), generator=g).double()  # integers: exact sums, no ties to 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), s=st.integers(2, 3), qy=st.integers(-2, 2), qx=st.integers(-2, 2),
       ry=st.integers(0, 2), rx=st.integers(0, 2))
def test_stride_keeps_equivariance_only_for_multiples_of_the_stride(seed, s, qy, qx, ry, rx):
    x, w = _image(seed, 48), _image(seed + 1, 3)
    ry, rx = ry % s, rx % s
    exact = strided_shift_error(x, w, s * qy, s * qx, s)
    assert exact["multiple_of_stride"] and exact["interior_max_error"] == 0.0
    assert exact["output_shift"] == [qy, qx]
    if ry or rx:  # off the stride's grid: the strided map is resampled, not shifted
        off = strided_shift_error(x, w, s * qy + ry, s * qx + rx, s)
        assert not off["multiple_of_stride"] and off["interior_max_error"] > 0.5


def test_max_pooling_is_partly_invariant_and_its_map_is_the_pooled_change():
    for sample in ("camera", "circles", "text"):
        r = measure(sample, 64, 1, 1, 2)
        pool = r["max_pool"]
        x = torch.tensor(r["image"], dtype=torch.float64)[None, None]
        want = (F.max_pool2d(x, 2) - F.max_pool2d(shift(x, 0, 1), 2)).abs()[0, 0]
        assert torch.equal(torch.tensor(pool["difference"], dtype=torch.float64), want)
        # partial: many pooled cells do not move at all, and the pooled map changes less than the input does
        assert 0.3 < pool["unchanged_fraction_1px"] < 1.0, sample
        assert pool["relative_change_1px"] < pool["input_relative_change_1px"], sample
        assert pool["unchanged_fraction_1px"] == float((want[1:-1, 1:-1] == 0).double().mean())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_rotation_and_scaling_break_equivariance_except_for_the_kernels_they_leave_alone(seed):
    x = _image(seed)
    sobel = KERNEL[None, None]
    symmetric = torch.tensor([[[[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]]], dtype=torch.float64)
    assert float(rotation_difference(x, sobel)[1:-1, 1:-1].max()) > 0.5
    assert float(rotation_difference(x, symmetric).max()) == 0.0  # rot90 maps this kernel to itself
    assert float(scale_difference(x, sobel)[1:-1, 1:-1].max()) > 0.1
    assert float(scale_difference(x, torch.full((1, 1, 1, 1), 3.0, dtype=torch.float64)).max()) < 1e-12


@pytest.mark.parametrize(("dy", "dx", "stride"), [(3, 5, 2), (-4, 0, 2), (0, -6, 3), (0, 0, 1)])
def test_the_frames_walk_from_no_shift_to_the_shift_with_their_maps(dy, dx, stride):
    r = measure("camera", 32, dy, dx, stride)
    frames = r["frames"]
    assert [f["shift"] for f in frames] == [list(p) for p in shift_path(dy, dx)]
    assert frames[0]["shift"] == [0, 0] and frames[-1]["shift"] == [dy, dx]
    assert len(frames) == max(abs(dy), abs(dx)) + 1
    steps = [max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip([f["shift"] for f in frames][1:],
                                                                         [f["shift"] for f in frames])]
    assert all(s == 1 for s in steps)  # one pixel at a time
    x = torch.tensor(r["image"], dtype=torch.float64)[None, None]
    for f in frames:
        assert f["conv"]["interior_max_error"] == 0.0
        want = conv_shift_error(x, KERNEL[None, None], *f["shift"])["difference"]
        assert torch.equal(torch.tensor(f["conv"]["difference"], dtype=torch.float64), want)
        assert (f["strided"]["interior_max_error"] == 0.0) >= f["strided"]["multiple_of_stride"]

    assert frames[-1]["conv"]["difference"] == r["conv"]["difference"]
    for part in ("rotation_90", "scale_0_5"):
        d = torch.tensor(r[part]["difference"], dtype=torch.float64)
        assert r[part]["interior_max_error"] == float(d[1:-1, 1:-1].max()) > 0


def test_a_strided_map_too_small_for_an_interior_says_so():
    r = measure("camera", 16, 4, 0, 4)  # 4×4 output, and the band 2 + 1 cells wide on each side
    assert r["frames"][-1]["strided"]["interior_max_error"] is None
