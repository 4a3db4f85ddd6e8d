"""Named kernels, validation and conv2d weights (server/core/kernels.py).

The oracle for make_weight is a plain-loop cross-correlation written here from the
definition, not torch: torch is what we serve, so it cannot be its own reference.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convscope.core import kernels
from convscope.core.exceptions import InvalidRequest
from convscope.core.kernels import (KERNEL_NAMES, flip, get_kernel, groups_for, list_kernels, make_weight,
                                 random_kernel, validate_kernel)

ROOT = Path(__file__).resolve().parents[2]


def _correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'valid' cross-correlation by the definition: out[i, j] = Σ_{u,v} image[i+u, j+v] · k[u, v]."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            total = 0.0
            for u in range(kh):
                for v in range(kw):
                    total += image[i + u, j + v] * kernel[u, v]
            out[i, j] = total
    return out


def test_sobel_and_prewitt_values_and_signs() -> None:
    np.testing.assert_array_equal(kernels.sobel_x(), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(kernels.sobel_y(), kernels.sobel_x().T)
    np.testing.assert_array_equal(kernels.prewitt_y(), kernels.prewitt_x().T)
    ramp = np.tile(np.arange(5.0), (5, 1))  # brighter to the right by 1 per pixel
    np.testing.assert_array_equal(_correlate(ramp, kernels.sobel_x()), 8.0)
    np.testing.assert_array_equal(_correlate(ramp, kernels.sobel_y()), 0.0)
    np.testing.assert_array_equal(_correlate(ramp.T, kernels.prewitt_y()), 6.0)


@pytest.mark.parametrize(("name", "params", "total"), [
    pytest.param("gaussian", {"size": 5, "sigma": 1.0}, 1.0, id="gaussian-5"),
    pytest.param("gaussian", {"size": 11, "sigma": 10.0}, 1.0, id="gaussian-wide"),
    pytest.param("gaussian", {"size": 4, "sigma": 0.7}, 1.0, id="gaussian-even"),
    pytest.param("box", {"size": 7}, 1.0, id="box-7"),
    pytest.param("identity", {"size": 5}, 1.0, id="identity-5"),
    pytest.param("sharpen", {}, 1.0, id="sharpen"),
    pytest.param("emboss", {}, 1.0, id="emboss"),
    pytest.param("laplacian", {"neighbours": 4}, 0.0, id="laplacian-4"),
    pytest.param("laplacian", {"neighbours": 8}, 0.0, id="laplacian-8"),
    pytest.param("outline", {}, 0.0, id="outline"),
    pytest.param("sobel_x", {}, 0.0, id="sobel-x"),
])
def test_kernel_sums(name: str, params: dict, total: float) -> None:
    k = get_kernel(name, params)
    assert k.weights.dtype == np.float64 and not k.weights.flags.writeable
    assert k.weights.sum() == pytest.approx(total, abs=1e-12)


def test_gaussian_is_symmetric_and_peaks_at_centre() -> None:
    g = kernels.gaussian(5, 1.0)
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g, flip(g))
    assert g.argmax() == 12 and g[2, 3] / g[2, 2] == pytest.approx(np.exp(-0.5))


def test_box_identity_laplacian_shapes() -> None:
    np.testing.assert_array_equal(kernels.box(3), np.full((3, 3), 1 / 9))
    assert kernels.identity(1).tolist() == [[1.0]] and kernels.identity(5)[2, 2] == 1
    assert kernels.laplacian(8)[1, 1] == -8 and kernels.outline()[1, 1] == 8


def test_gabor_orientation() -> None:
    vertical_stripes = kernels.gabor(size=9, theta=0.0, sigma=3.0, lambd=4.0, gamma=1.0, psi=0.0)
    np.testing.assert_allclose(vertical_stripes, vertical_stripes[::-1, :])  # constant along y (up to envelope)
    assert vertical_stripes[4, 4] == pytest.approx(1.0)
    turned = kernels.gabor(size=9, theta=90.0, sigma=3.0, lambd=4.0, gamma=1.0, psi=0.0)
    np.testing.assert_allclose(turned, vertical_stripes.T, atol=1e-12)
    assert get_kernel("gabor", {"lambda": 6}).params["lambd"] == 6.0


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 11), w=st.integers(1, 11), seed=st.integers(0, 10**6))
def test_flip_twice_is_identity_and_flip_turns_correlation_into_convolution(h: int, w: int, seed: int) -> None:
    k = np.random.default_rng(seed).normal(size=(h, w))
    np.testing.assert_array_equal(flip(flip(k)), k)
    assert flip(k)[0, 0] == k[-1, -1] and flip(k).flags.c_contiguous
    image = np.random.default_rng(seed + 1).normal(size=(h + 3, w + 2))
    convolution = np.zeros((4, 3))  # out[i, j] = Σ image[i+u, j+v] · k[h-1-u, w-1-v]
    for i in range(4):
        for j in range(3):
            convolution[i, j] = sum(image[i + u, j + v] * k[h - 1 - u, w - 1 - v]
                                    for u in range(h) for v in range(w))
    np.testing.assert_allclose(_correlate(image, flip(k)), convolution, atol=1e-10)


def test_random_kernel_is_deterministic_across_processes() -> None:
    code = "from convscope.core.kernels import random_kernel; print(random_kernel(1234, 5).tobytes().hex())"
    runs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                           check=True, timeout=120).stdout.strip() for _ in range(2)]
    assert runs[0] == runs[1] == random_kernel(1234, 5).tobytes().hex()
    assert not np.array_equal(random_kernel(1234, 5), random_kernel(1235, 5))
    assert random_kernel(0, 3).shape == (3, 3)


@pytest.mark.parametrize(("mode", "channels", "shape", "groups"), [
    pytest.param("per_channel", 3, (3, 1, 3, 3), 3, id="per-channel-rgb"),
    pytest.param("shared", 3, (1, 3, 3, 3), 1, id="shared-rgb"),
    pytest.param("per_channel", 1, (1, 1, 3, 3), 1, id="per-channel-gray"),
    pytest.param("shared", 1, (1, 1, 3, 3), 1, id="shared-gray"),
])
def test_make_weight_shapes(mode: str, channels: int, shape: tuple, groups: int) -> None:
    w = make_weight(kernels.sobel_x(), channels, mode)
    assert tuple(w.shape) == shape and w.dtype == torch.float32 and w.is_contiguous()
    assert groups_for(mode, channels) == groups
    assert make_weight(kernels.sobel_x(), channels, mode, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("kernel", [
    pytest.param(kernels.sobel_x(), id="sobel-x"),
    pytest.param(kernels.gaussian(5, 1.2), id="gaussian-5"),
    pytest.param(np.arange(6.0).reshape(2, 3) - 2, id="rectangular-2x3"),
])
def test_shared_weight_on_replicated_gray_equals_the_2d_kernel(kernel: np.ndarray) -> None:
    gray = np.random.default_rng(3).random((9, 8))
    expected = _correlate(gray, kernel)
    rgb = torch.tensor(np.stack([gray] * 3))[None]
    shared = torch.nn.functional.conv2d(rgb, make_weight(kernel, 3, "shared", dtype=torch.float64))
    np.testing.assert_allclose(shared[0, 0].numpy(), expected, atol=1e-12)
    per = torch.nn.functional.conv2d(rgb, make_weight(kernel, 3, "per_channel", dtype=torch.float64),
                                     groups=groups_for("per_channel", 3))
    for c in range(3):
        np.testing.assert_allclose(per[0, c].numpy(), expected, atol=1e-12)


def test_list_kernels_catalogue() -> None:
    listed = list_kernels()
    assert [k["name"] for k in listed] == list(KERNEL_NAMES)
    assert {"identity", "box", "gaussian", "sharpen", "emboss", "sobel_x", "sobel_y", "prewitt_x",
            "prewitt_y", "laplacian", "outline", "gabor", "random"} == set(KERNEL_NAMES)
    for k in listed:
        assert k["title"] and k["description"].endswith(".") and np.array(k["weights"]).ndim == 2
        for p in k["params"]:
            assert ("choices" in p) or p["min"] <= p["default"] <= p["max"]
    gabor = next(k for k in listed if k["name"] == "gabor")
    assert [p["name"] for p in gabor["params"]] == ["size", "theta", "sigma", "lambd", "gamma", "psi"]


@pytest.mark.parametrize(("name", "params", "match", "loc"), [
    pytest.param("blur", {}, "no kernel named 'blur'", ["kernel", "name"], id="unknown-name"),
    pytest.param("box", {"sigma": 1}, "takes size", ["kernel", "params", "sigma"], id="unknown-param"),
    pytest.param("sobel_x", {"size": 5}, "takes no parameters", ["kernel", "params", "size"], id="no-params"),
    pytest.param("box", {"size": 12}, "between 1 and 11, not 12", ["kernel", "params", "size"], id="too-big"),
    pytest.param("box", {"size": 2.5}, "whole number", ["kernel", "params", "size"], id="fractional-size"),
    pytest.param("box", {"size": True}, "finite number", ["kernel", "params", "size"], id="bool"),
    pytest.param("gaussian", {"sigma": float("nan")}, "finite", ["kernel", "params", "sigma"], id="nan-sigma"),
    pytest.param("identity", {"size": 4}, "odd", ["kernel", "params", "size"], id="even-identity"),
    pytest.param("laplacian", {"neighbours": 6}, "one of 4, 8", ["kernel", "params", "neighbours"],
                 id="neighbours"),
])
def test_get_kernel_errors(name: str, params: dict, match: str, loc: list) -> None:
    with pytest.raises(InvalidRequest, match=match) as info:
        get_kernel(name, params, loc=["kernel"])
    assert info.value.loc == loc and info.value.status == 422


@pytest.mark.parametrize(("values", "shape"), [
    pytest.param([[1]], (1, 1), id="1x1"),
    pytest.param([[1, 2, 3]], (1, 3), id="row"),
    pytest.param([[0.5] * 11] * 11, (11, 11), id="11x11"),
    pytest.param(np.ones((2, 5)), (2, 5), id="numpy"),
])
def test_validate_kernel_accepts(values: object, shape: tuple) -> None:
    k = validate_kernel(values)
    assert k.shape == shape and k.dtype == np.float64


@pytest.mark.parametrize(("values", "match", "loc"), [
    pytest.param([], "non-empty list of rows", ["kernel"], id="empty"),
    pytest.param("sobel", "non-empty list of rows", ["kernel"], id="string"),
    pytest.param([[1] * 3] * 12, "12 rows; at most 11", ["kernel"], id="too-many-rows"),
    pytest.param([[1] * 12], "12 columns; at most 11", ["kernel", 0], id="too-many-columns"),
    pytest.param([[1, 2], [3]], "row 1 has 1 numbers but row 0 has 2", ["kernel", 1], id="ragged"),
    pytest.param([[1, 2], []], "row 1 must be a non-empty", ["kernel", 1], id="empty-row"),
    pytest.param([[1, float("inf")]], r"\[0\]\[1\] must be a finite number", ["kernel", 0, 1], id="inf"),
    pytest.param([[1, "2"]], "finite number", ["kernel", 0, 1], id="string-entry"),
    pytest.param([[True]], "finite number", ["kernel", 0, 0], id="bool-entry"),
])
def test_validate_kernel_rejects(values: object, match: str, loc: list) -> None:
    with pytest.raises(InvalidRequest, match=match) as info:
        validate_kernel(values)
    assert info.value.loc == loc


@pytest.mark.parametrize(("mode", "channels"), [
    pytest.param("both", 3, id="bad-mode"), pytest.param("shared", 0, id="zero-channels"),
])
def test_make_weight_rejects(mode: str, channels: int) -> None:
    with pytest.raises(InvalidRequest):
        make_weight(kernels.box(3), channels, mode)
    with pytest.raises(InvalidRequest):
        make_weight(np.ones(3), 3)
