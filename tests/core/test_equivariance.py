"""Translation equivariance: for random images and kernels, the shifted conv equals the conv shifted in the
interior and fails in the border band (padding and incoming zeros), as equivariance.py says; stride keeps it
only for multiples of the stride; rotation breaks it."""
from __future__ import annotations

import torch
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from convscope.app import create_app
from convscope.core.equivariance import conv_shift_error, measure


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
