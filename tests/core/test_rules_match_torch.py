"""PyTorch's rules are the rules: for random (often illegal) settings, our validation
refuses exactly what torch refuses, and accepts with torch's output shape.

torch is the oracle only for *which settings are legal*; values are checked
against the loop reference in test_ops_vs_reference.py.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convscope.core.exceptions import ConvscopeError
from convscope.core.ops import run_op

small = st.integers(min_value=1, max_value=7)
pads = st.integers(min_value=0, max_value=4)


def _torch_outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except (RuntimeError, ValueError):
        return None
    out = out[0] if isinstance(out, tuple) else out
    # Our own two refusals, each explained by its sentence: torch returns an empty tensor for a zero-size
    # output, and -inf for a dilated max-pool window that reads only padding.
    return None if 0 in out.shape or bool(torch.isinf(out).any()) else tuple(out.shape)


def _our_outcome(op: str, body: dict):
    try:
        return tuple(run_op(op, body)["shape"])
    except ConvscopeError as err:
        assert err.status in (413, 422), err.status
        assert err.message.endswith((".", "?")), err.message
        return None


def _zeros(*shape: int) -> list:
    return np.zeros(shape).tolist()


@settings(max_examples=300)
@given(h=small, w=small, kh=small, kw=small, s=st.integers(0, 3), p=pads, d=st.integers(0, 3),
       groups=st.sampled_from([1, 2, 3]), cin=st.sampled_from([1, 2, 3, 6]), cout=st.sampled_from([1, 2, 3, 6]),
       mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]), same=st.booleans())
def test_conv2d_legality_matches_torch(h, w, kh, kw, s, p, d, groups, cin, cout, mode, same):
    cpg = max(1, cin // groups)
    padding = "same" if same else p
    body = {"input": _zeros(1, cin, h, w), "weight": _zeros(cout, cpg, kh, kw), "stride": s, "padding": padding,
            "dilation": d, "groups": groups, "padding_mode": mode}

    def via_torch():
        if s < 1 or d < 1:
            raise RuntimeError("non-positive stride or dilation")  # torch's functional call would also refuse
        module = torch.nn.Conv2d(cin, cout, (kh, kw), s, padding, d, groups, bias=False, padding_mode=mode)
        with torch.no_grad():
            module.weight.zero_()
            if module.weight.shape[1] != cpg:
                raise RuntimeError("weight/groups mismatch")
            return module(torch.zeros(1, cin, h, w))

    assert _our_outcome("conv2d", body) == _torch_outcome(via_torch)


@settings(max_examples=300)
@given(n=small, k=small, s=st.integers(1, 4), p=pads, op=st.integers(0, 3), d=st.integers(1, 3),
       groups=st.sampled_from([1, 2]), cin=st.sampled_from([2, 4]), cout_pg=st.sampled_from([1, 3]))
def test_conv_transpose2d_legality_matches_torch(n, k, s, p, op, d, groups, cin, cout_pg):
    body = {"input": _zeros(1, cin, n, n + 1), "weight": _zeros(cin, cout_pg, k, k), "stride": s, "padding": p,
            "output_padding": op, "dilation": d, "groups": groups}
    fn = lambda: F.conv_transpose2d(torch.zeros(1, cin, n, n + 1), torch.zeros(cin, cout_pg, k, k), None, s, p, op,
                                    groups, d)
    assert _our_outcome("conv_transpose2d", body) == _torch_outcome(fn)


@settings(max_examples=400)
@given(h=small, w=small, k=small, s=st.integers(0, 4), p=pads, d=st.integers(1, 3), ceil=st.booleans(),
       kind=st.sampled_from(["max", "avg"]), include=st.booleans())
def test_pool2d_legality_matches_torch(h, w, k, s, p, d, ceil, kind, include):
    x = torch.zeros(1, 1, h, w)
    if kind == "max":
        body = {"input": _zeros(1, 1, h, w), "kernel_size": k, "stride": s, "padding": p, "dilation": d,
                "ceil_mode": ceil}
        fn = lambda: F.max_pool2d(x, k, s, p, d, ceil)
    else:
        body = {"input": _zeros(1, 1, h, w), "kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil,
                "count_include_pad": include}
        fn = lambda: F.avg_pool2d(x, k, s, p, ceil, include)
    assert _our_outcome(f"{kind}_pool2d", body) == _torch_outcome(fn)


@settings(max_examples=200)
@given(n=small, k=small, s=st.integers(1, 4), p=pads, d=st.integers(1, 3), ceil=st.booleans())
def test_pool1d_legality_matches_torch(n, k, s, p, d, ceil):
    body = {"input": _zeros(1, 2, n), "kernel_size": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": ceil}
    fn = lambda: F.max_pool1d(torch.zeros(1, 2, n), k, s, p, d, ceil)
    assert _our_outcome("max_pool1d", body) == _torch_outcome(fn)


@settings(max_examples=200)
@given(n=small, k=st.integers(1, 4), s=st.integers(1, 4), p=st.integers(0, 2), delta=st.integers(-5, 5),
       give=st.booleans())
def test_max_unpool2d_output_size_rule_matches_torch(n, k, s, p, delta, give):
    default = (n - 1) * s - 2 * p + k
    size = [default + delta, default]
    body = {"input": _zeros(1, 1, n, n), "indices": np.zeros((1, 1, n, n), dtype=int).tolist(), "kernel_size": k,
            "stride": s, "padding": p}
    if give:
        body["output_size"] = size
    fn = lambda: F.max_unpool2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, n, n, dtype=torch.long), k, s, p,
                                size if give else None)
    assert _our_outcome("max_unpool2d", body) == _torch_outcome(fn)


@settings(max_examples=200)
@given(h=small, w=small, mode=st.sampled_from(["nearest", "nearest-exact", "bilinear", "bicubic"]),
       use_size=st.booleans(), size=st.integers(1, 12), scale=st.sampled_from([0.1, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]),
       align=st.sampled_from([None, True, False]))
def test_interpolate_legality_matches_torch(h, w, mode, use_size, size, scale, align):
    body = {"input": _zeros(1, 1, h, w), "mode": mode}
    kwargs = {"size": size} if use_size else {"scale_factor": scale}
    body |= kwargs
    if align is not None:
        body["align_corners"] = align
    fn = lambda: F.interpolate(torch.zeros(1, 1, h, w), mode=mode, align_corners=align, **kwargs)
    assert _our_outcome("interpolate", body) == _torch_outcome(fn)


@pytest.mark.parametrize(
    ("op", "body", "fragment"),
    [
        pytest.param("conv2d", {"input": _zeros(1, 1, 5, 5), "weight": _zeros(1, 1, 3, 3), "stride": 2,
                                "padding": "same"}, "stride 1", id="same-refuses-stride"),
        pytest.param("conv_transpose2d", {"input": _zeros(1, 1, 3, 3), "weight": _zeros(1, 1, 3, 3), "stride": 2,
                                          "output_padding": 2},
                     "output_padding (2) must be smaller than stride (2) or dilation (1)", id="output-padding"),
        pytest.param("max_pool2d", {"input": _zeros(1, 1, 5, 5), "kernel_size": 3, "padding": 2},
                     "at most half the kernel size (3 // 2 = 1)", id="pool-padding"),
        pytest.param("conv2d", {"input": _zeros(1, 4, 5, 5), "weight": _zeros(2, 2, 3, 3), "groups": 3},
                     "groups (3) must divide the input channels (4)", id="groups-divide"),
        pytest.param("conv2d", {"input": _zeros(1, 3, 5, 5), "weight": _zeros(2, 2, 3, 3)},
                     "input channels / groups = 3 / 1 = 3", id="channel-mismatch"),
        pytest.param("conv2d", {"input": _zeros(1, 1, 4, 4), "weight": _zeros(1, 1, 3, 3), "padding": 4,
                                "padding_mode": "reflect"}, "reflect padding (4) must be smaller", id="reflect"),
        pytest.param("max_unpool2d", {"input": _zeros(1, 1, 2, 2), "indices": [[[[0, 1], [2, 99]]]],
                                      "kernel_size": 2}, "outside the unpooled plane", id="unpool-index"),
        pytest.param("conv2d", {"input": _zeros(1, 1, 5, 5), "weight": _zeros(1, 1, 7, 7)},
                     "spans d(k-1)+1", id="kernel-too-big"),
        pytest.param("interpolate", {"input": _zeros(1, 1, 4, 4), "size": 3, "mode": "nearest",
                                     "align_corners": True}, "align_corners can only be set", id="align-nearest"),
    ],
)
def test_sentences_name_the_constraint_and_numbers(op, body, fragment):
    with pytest.raises(ConvscopeError) as info:
        run_op(op, body)
    assert fragment in info.value.message
