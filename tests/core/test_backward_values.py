"""Backward values for random shapes, strides, paddings, dilations and groups: the server's gradients (autograd,
through the ops API) against the plain-loop references written from the chain rule (tests/reference.py) and
against torch's autograd called directly; and every term of the backward trace re-summed equals its cell."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convscope.core.ops import run_op
from tests import reference as ref

SETTINGS = settings(max_examples=60, deadline=None)


def _ints(data: st.DataObject, shape: tuple[int, ...], lo: int = -3, hi: int = 3) -> np.ndarray:
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    return np.random.default_rng(seed).integers(lo, hi + 1, size=shape).astype(np.float64)


def _resum(cells: list[dict], field: str = "product") -> None:
    for cell in cells:
        assert sum(t[field] for t in cell["terms"]) == pytest.approx(cell["value"], abs=1e-12), cell["at"]


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(2)]
    stride = [draw(st.integers(1, 3)) for _ in range(2)]
    dilation = [draw(st.integers(1, 2)) for _ in range(2)]
    padding = [draw(st.integers(0, 2)) for _ in range(2)]
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    size = []
    for k, d, p in zip(kernel, dilation, padding):
        least = max(1, d * (k - 1) + 1 - 2 * p, p + 1 if mode in ("reflect", "circular") else 1)
        size.append(draw(st.integers(least, least + 4)))
    return {"batch": draw(st.integers(1, 2)), "c_in": c_in, "c_out": c_out, "size": size, "kernel": kernel,
            "params": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
                       "padding_mode": mode}}


def _autograd_conv(x, w, b, g, params):
    xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    p, mode = params["padding"], params["padding_mode"]
    if mode == "zeros":
        y = F.conv2d(xt, wt, bt, stride=params["stride"], padding=p, dilation=params["dilation"],
                     groups=params["groups"])
    else:  # torch's nn.Conv2d does this for non-zero padding modes
        y = F.conv2d(F.pad(xt, (p[1], p[1], p[0], p[0]), mode=mode), wt, bt, stride=params["stride"],
                     dilation=params["dilation"], groups=params["groups"])
    y.backward(torch.tensor(g))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@SETTINGS
@given(case=conv_cases(), data=st.data())
def test_conv2d_backward_matches_the_loops_and_autograd(case: dict, data: st.DataObject) -> None:
    params = case["params"]
    x = _ints(data, (case["batch"], case["c_in"], *case["size"]))
    w = _ints(data, (case["c_out"], case["c_in"] // params["groups"], *case["kernel"]))
    b = _ints(data, (case["c_out"],))
    out = ref.conv(x, w, b, **params)
    assume(min(out.shape[2:]) >= 1)
    g = _ints(data, out.shape)
    res = run_op("conv2d", {"input": x.tolist(), "weight": w.tolist(), "bias": b.tolist(), "grad_output": g.tolist(),
                            "extras": ["backward_trace"], **params})
    loops = ref.conv_backward(x, w, g, **params)
    autograd = _autograd_conv(x, w, b, g, params)
    for name, loop, auto in zip(("grad_input", "grad_weight", "grad_bias"), loops, autograd):
        np.testing.assert_array_equal(res[name], loop, err_msg=name)  # small integers: exact in float64
        np.testing.assert_array_equal(res[name], auto, err_msg=name)
    bt = res["backward_trace"]
    assert bt["groups"] == params["groups"] and len(bt["grad_input"]) == x.size and len(bt["grad_weight"]) == w.size
    _resum(bt["grad_input"])
    _resum(bt["grad_weight"])
    _resum(bt["grad_bias"], "grad_output")
    c_in_group, c_out_group = w.shape[1], case["c_out"] // params["groups"]
    for cell in bt["grad_input"]:  # a term only links cells of one group
        for t in cell["terms"]:
            assert t["out"][1] // c_out_group == cell["at"][1] // c_in_group
            assert t["tap"][1] == cell["at"][1] % c_in_group


def _every_window_reads_a_cell(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> bool:
    span = d * (k - 1) + 1
    out = (n + 2 * p - span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:  # torch's rule: the last window starts inside the input or left padding
        out -= 1
    return all(any(0 <= o * s - p + d * j < n for j in range(k)) for o in range(out))


@st.composite
def pool_cases(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["max_pool2d", "avg_pool2d"]))
    kernel = [draw(st.integers(1, 3)) for _ in range(2)]
    stride = [draw(st.integers(1, 3)) for _ in range(2)]
    padding = [draw(st.integers(0, k // 2)) for k in kernel]
    params: dict = {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": draw(st.booleans())}
    dilation = [1, 1]
    if kind == "max_pool2d":
        dilation = [draw(st.integers(1, 2)) for _ in range(2)]
        params["dilation"] = dilation
    else:
        params["count_include_pad"] = draw(st.booleans())
        params["divisor_override"] = draw(st.sampled_from([None, None, 1, 2, 5]))
    size = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 7)) for k, d, p in zip(kernel, dilation, padding)]
    if kind == "max_pool2d":  # a dilated window that reads only padding is refused (README: a rule of our own)
        assume(all(_every_window_reads_a_cell(n, k, s, p, d, params["ceil_mode"])
                   for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)))
    return {"kind": kind, "shape": (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *size), "params": params,
            "ties": draw(st.booleans())}


@SETTINGS
@given(case=pool_cases(), data=st.data())
def test_pool2d_backward_matches_the_loops_and_autograd(case: dict, data: st.DataObject) -> None:
    kind, params = case["kind"], {k: v for k, v in case["params"].items() if v is not None}
    x = _ints(data, case["shape"], 0, 1 if case["ties"] else 999)  # 0/1 inputs tie in most windows
    out = run_op(kind, {"input": x.tolist(), **params})["output"]
    g = _ints(data, out.shape)
    res = run_op(kind, {"input": x.tolist(), "grad_output": g.tolist(), "extras": ["backward_trace"], **params})
    xt = torch.tensor(x, requires_grad=True)
    getattr(F, kind)(xt, **params).backward(torch.tensor(g))
    loop = (ref.max_pool_backward if kind == "max_pool2d" else ref.avg_pool_backward)(x, g, **params)
    np.testing.assert_allclose(res["grad_input"], loop, rtol=0, atol=1e-12)  # ties: torch's CPU rule is the loop's
    np.testing.assert_array_equal(res["grad_input"], xt.grad.numpy())
    bt = res["backward_trace"]
    _resum(bt["grad_input"])
    for cell in bt["grad_input"]:
        for t in cell["terms"]:
            if kind == "max_pool2d":  # the routed cell holds the window's maximum; a tie names every holder
                assert x[tuple(cell["at"])] == out[tuple(t["out"])]
                if "tied_with" in t:
                    assert t["tied_with"][0] == cell["at"][2:] and len(t["tied_with"]) > 1
                    assert all(x[(*cell["at"][:2], *c)] == out[tuple(t["out"])] for c in t["tied_with"])
            elif "divisor_override" in params:
                assert t["divisor"] == params["divisor_override"]
    if kind == "avg_pool2d":
        assert bt["count_include_pad"] == params["count_include_pad"]
        assert bt["divisor_override"] == params.get("divisor_override")
