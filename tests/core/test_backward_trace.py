"""The backward trace: its values against plain-loop references (no torch) and autograd, and every term
re-summed equals its cell."""
from __future__ import annotations

import numpy as np
import pytest

from convscope.core.exceptions import InvalidRequest
from convscope.core.ops import run_op
from tests import reference as ref

CONV_CASES = [
    pytest.param(dict(stride=1, padding=0), id="plain"),
    pytest.param(dict(stride=2, padding=1), id="stride2-pad1"),
    pytest.param(dict(stride=1, padding=2, dilation=2), id="dilation2"),
    pytest.param(dict(stride=[2, 1], padding=[1, 0], groups=2), id="groups2"),
    pytest.param(dict(stride=1, padding=1, padding_mode="reflect"), id="reflect"),
]


def _ints(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-3, 4, size=shape).astype(np.float64)


def _resum(cells: list[dict]) -> None:
    for cell in cells:
        assert sum(t["product"] for t in cell["terms"]) == pytest.approx(cell["value"], abs=1e-12), cell["at"]


@pytest.mark.parametrize("params", CONV_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conv_backward_trace_matches_reference_and_resums(params: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = params.get("groups", 1)
    x, w, b = _ints(rng, (2, 2, 5, 6)), _ints(rng, (4, 2 // groups, 3, 2)), _ints(rng, (4,))
    out = ref.conv(x, w, b, **params)
    g = _ints(rng, out.shape)
    body = {"input": x.tolist(), "weight": w.tolist(), "bias": b.tolist(), "grad_output": g.tolist(),
            "extras": ["backward_trace"], **params}
    res = run_op("conv2d", body)
    gi, gw, gb = ref.conv_backward(x, w, g, **params)
    np.testing.assert_allclose(res["grad_input"], gi, atol=1e-12)
    np.testing.assert_allclose(res["grad_weight"], gw, atol=1e-12)
    np.testing.assert_allclose(res["grad_bias"], gb, atol=1e-12)
    bt = res["backward_trace"]
    _resum(bt["grad_input"])
    _resum(bt["grad_weight"])
    for cell in bt["grad_bias"]:
        assert sum(t["grad_output"] for t in cell["terms"]) == pytest.approx(cell["value"])
    for cell in bt["grad_input"]:  # each term names the output cell and tap, with their values
        for t in cell["terms"]:
            assert t["grad_output"] == g[tuple(t["out"])] and t["weight"] == w[tuple(t["tap"])]
            assert t["product"] == t["grad_output"] * t["weight"]
    for cell in bt["grad_weight"]:
        for t in cell["terms"]:
            assert t["input_value"] == x[tuple(t["input"])]


def _pool_reference_backward(op: str, x: np.ndarray, g: np.ndarray, params: dict) -> np.ndarray:
    """max: route g to the reference's argmax; avg: the transpose of the (linear) reference, column by column."""
    grad = np.zeros_like(x)
    if op == "max_pool2d":
        _, idx = ref.max_pool(x, **params)
        for n, c, *pos in ref.cells(g.shape):
            y, xx = ref.unflat_index(int(idx[(n, c, *pos)]), x.shape[2:])
            grad[n, c, y, xx] += g[(n, c, *pos)]
        return grad
    for pos in ref.cells(x.shape):
        e = np.zeros_like(x)
        e[pos] = 1.0
        grad[pos] = float((ref.avg_pool(e, **params) * g).sum())
    return grad


POOL_CASES = [
    pytest.param("max_pool2d", dict(kernel_size=2), id="max-2"),
    pytest.param("max_pool2d", dict(kernel_size=3, stride=1, padding=1), id="max-overlap"),
    pytest.param("max_pool2d", dict(kernel_size=3, stride=2, ceil_mode=True), id="max-ceil"),
    pytest.param("avg_pool2d", dict(kernel_size=2), id="avg-2"),
    pytest.param("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=True), id="avg-incpad"),
    pytest.param("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False,
                                    ceil_mode=True), id="avg-excpad-ceil"),
]


@pytest.mark.parametrize("op,params", POOL_CASES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_pool_backward_trace_matches_reference_and_resums(op: str, params: dict, ties: bool) -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2 if ties else 1000, size=(1, 2, 6, 7)).astype(np.float64)
    body = {"input": x.tolist(), **params}
    out = run_op(op, body)["output"]
    g = rng.integers(-3, 4, size=out.shape).astype(np.float64)
    res = run_op(op, body | {"grad_output": g.tolist(), "extras": ["backward_trace"]})
    if not (ties and op == "max_pool2d"):  # with ties the reference's first-max rule need not be torch's
        np.testing.assert_allclose(res["grad_input"], _pool_reference_backward(op, x, g, params), atol=1e-12)
    _resum(res["backward_trace"]["grad_input"])
    if op == "max_pool2d":  # each gradient lands on the cell torch's index names
        for cell in res["backward_trace"]["grad_input"]:
            for t in cell["terms"]:
                assert int(res["indices"][tuple(t["out"])]) == t["index"]


def test_backward_trace_needs_grad_output() -> None:
    with pytest.raises(InvalidRequest, match="needs grad_output"):
        run_op("conv2d", {"input": [[[[1.0]]]], "weight": [[[[1.0]]]], "extras": ["backward_trace"]})


def test_backward_trace_refuses_other_ops() -> None:
    with pytest.raises(InvalidRequest, match="backward_trace is defined for"):
        run_op("interpolate", {"input": [[[[1.0]]]], "scale_factor": 2, "grad_output": [[[[1.0, 1.0], [1.0, 1.0]]]],
                               "extras": ["backward_trace"]})
