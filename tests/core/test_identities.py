"""Identities between the ops and their extras, and the size relationships of Dumoulin & Visin.

- the transposed convolution is the input-gradient of the convolution (the adjoint of C);
- the Toeplitz matrix C reproduces the op, and C^T reproduces conv_transpose;
- im2col times the flattened weight is the convolution;
- max_unpool puts each pooled value back at its index, zeros elsewhere;
- grad_input, grad_weight and grad_bias equal the chain rule done with loops (tests/reference.py);
- "A guide to convolution arithmetic for deep learning" (Dumoulin & Visin, 2016),
  relationships 1-15, checked through run_op's output shapes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convscope.core.ops import run_op
from tests import reference as ref
from tests.core.test_ops_vs_reference import (
    assert_close,
    avg_pool_bodies,
    conv_bodies,
    conv_transpose_bodies,
    interpolate_bodies,
    max_pool_bodies,
    max_unpool_bodies,
)

EXAMPLES = settings(max_examples=100, deadline=None)
#: Toeplitz cases stay well under the server's cap (limits.max_toeplitz_entries) so the Jacobian is quick.
TOEPLITZ_ENTRIES = 40_000
DIMS = [pytest.param(1, id="1d"), pytest.param(2, id="2d")]


# ---------------------------------------------------------------- helpers


def params_of(body: dict[str, Any], nd: int) -> dict[str, Any]:
    """The conv parameters of a body, per axis, with torch's defaults filled in."""
    kernel = np.asarray(body["weight"]).shape[2:]
    dilation = ref.as_tuple(body.get("dilation", 1), nd)
    return {
        "kernel": kernel,
        "stride": ref.as_tuple(body.get("stride", 1), nd),
        "pads": ref.resolve_conv_padding(body.get("padding", 0), kernel, dilation),
        "dilation": dilation,
        "groups": body.get("groups", 1),
        "padding_mode": body.get("padding_mode", "zeros"),
    }


def zero_padded_symmetric(body: dict[str, Any], nd: int) -> bool:
    """True when the conv pads with zeros, the same amount on both sides (so conv_transpose can mirror it)."""
    p = params_of(body, nd)
    return p["padding_mode"] == "zeros" and all(lo == hi for lo, hi in p["pads"])


def transpose_body_for(conv_body: dict[str, Any], nd: int, grad: np.ndarray) -> dict[str, Any]:
    """The conv_transpose body that maps a conv's output-shaped tensor back onto the conv's input shape.

    Same weight (conv's (O, I/G, k) is conv_transpose's (C_in, C_out/G, k) layout), stride, padding,
    dilation and groups; output_padding = (n + 2p - d(k-1) - 1) mod s restores the rows the floor dropped.
    """
    p = params_of(conv_body, nd)
    in_size = np.asarray(conv_body["input"]).shape[2:]
    pads = [lo for lo, _ in p["pads"]]
    output_padding = [
        (in_size[a] + 2 * pads[a] - p["dilation"][a] * (p["kernel"][a] - 1) - 1) % p["stride"][a] for a in range(nd)
    ]
    return {"input": grad.tolist(), "weight": conv_body["weight"], "stride": list(p["stride"]), "padding": pads,
            "output_padding": output_padding, "dilation": list(p["dilation"]), "groups": p["groups"]}


def without_bias(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "bias"}


@st.composite
def conv_with_grad(draw: st.DrawFn, nd: int, symmetric_zeros: bool) -> tuple[dict[str, Any], np.ndarray]:
    """A conv body (zero, symmetric padding if asked) and a grad_output of its output's shape."""
    body = draw(conv_bodies(nd))
    if symmetric_zeros:
        body["padding_mode"] = "zeros"
        if body.get("padding") == "same":  # the larger side keeps the output size >= 1
            body["padding"] = max(max(pads) for pads in params_of(body, nd)["pads"])
    shape = ref.run(f"conv{nd}d", body)["output"].shape
    grad = np.asarray(draw(st.lists(st.integers(-5, 5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                      dtype=np.float64).reshape(shape)
    return body, grad


# ---------------------------------------------------------------- transposed convolution = gradient of convolution


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_conv_transpose_is_the_input_gradient_of_conv(nd: int, data: st.DataObject) -> None:
    body, grad = data.draw(conv_with_grad(nd, symmetric_zeros=True), label="conv")
    forward = run_op(f"conv{nd}d", body | {"grad_output": grad.tolist()})
    transposed = run_op(f"conv_transpose{nd}d", transpose_body_for(body, nd, grad))
    assert_close(transposed["output"], forward["grad_input"], "conv_transpose(g, w) vs grad_input of conv")


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_conv_gradients_match_the_chain_rule(nd: int, data: st.DataObject) -> None:
    """grad_weight[o, c, t] = sum_{n, y} g[n, o, y] * xpad[n, c, y*s - p + t*d], and so on (every padding mode)."""
    body, grad = data.draw(conv_with_grad(nd, symmetric_zeros=False), label="conv")
    result = run_op(f"conv{nd}d", body | {"grad_output": grad.tolist()})
    p = params_of(body, nd)
    grad_input, grad_weight, grad_bias = ref.conv_backward(
        ref.to_array(body["input"]), ref.to_array(body["weight"]), grad, p["stride"], body.get("padding", 0),
        p["dilation"], p["groups"], p["padding_mode"])
    assert_close(result["grad_input"], grad_input, "grad_input")
    assert_close(result["grad_weight"], grad_weight, "grad_weight")
    if "bias" in body:
        assert_close(result["grad_bias"], grad_bias, "grad_bias")
    else:
        assert result.get("grad_bias") is None


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_conv_transpose_gradients_match_the_chain_rule(nd: int, data: st.DataObject) -> None:
    body = data.draw(conv_transpose_bodies(nd), label="body")
    shape = ref.run(f"conv_transpose{nd}d", body)["output"].shape
    grad = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) % 7 - 3
    result = run_op(f"conv_transpose{nd}d", body | {"grad_output": grad.tolist()})
    grad_input, grad_weight, grad_bias = ref.conv_transpose_backward(
        ref.to_array(body["input"]), ref.to_array(body["weight"]), grad, body.get("stride", 1),
        body.get("padding", 0), body.get("groups", 1), body.get("dilation", 1))
    assert_close(result["grad_input"], grad_input, "grad_input")
    assert_close(result["grad_weight"], grad_weight, "grad_weight")
    if "bias" in body:
        assert_close(result["grad_bias"], grad_bias, "grad_bias")


# ---------------------------------------------------------------- the Toeplitz matrix C


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_toeplitz_reproduces_conv_and_its_transpose_is_conv_transpose(nd: int, data: st.DataObject) -> None:
    """C @ x = conv(x) - bias for every padding mode; with symmetric zero padding, C^T @ g = conv_transpose(g)."""
    body, grad = data.draw(conv_with_grad(nd, symmetric_zeros=False), label="conv")
    x = ref.to_array(body["input"])
    out = ref.run(f"conv{nd}d", without_bias(body))["output"]
    assume(out.size * x.size <= TOEPLITZ_ENTRIES)
    result = run_op(f"conv{nd}d", body | {"extras": ["toeplitz"]})
    matrix = np.asarray(result["toeplitz"])
    assert matrix.shape == (out.size, x.size)
    assert_close(matrix @ x.ravel(), out.ravel(), "C @ x")
    if zero_padded_symmetric(body, nd):
        transposed = run_op(f"conv_transpose{nd}d", transpose_body_for(body, nd, grad))
        assert_close(matrix.T @ grad.ravel(), np.asarray(transposed["output"]).ravel(), "C^T @ g")


OTHER_OPS = [
    pytest.param("conv_transpose2d", lambda: conv_transpose_bodies(2), id="conv_transpose2d"),
    pytest.param("avg_pool2d", lambda: avg_pool_bodies(2), id="avg_pool2d"),
    pytest.param("max_unpool2d", lambda: max_unpool_bodies(2), id="max_unpool2d"),
    pytest.param("interpolate", lambda: interpolate_bodies(2, "bilinear"), id="interpolate-bilinear"),
    pytest.param("interpolate", lambda: interpolate_bodies(2, "bicubic"), id="interpolate-bicubic"),
    pytest.param("interpolate", lambda: interpolate_bodies(1, "nearest"), id="interpolate-1d-nearest"),
]


def torch_backward_shortcut(op: str, body: dict[str, Any]) -> bool:
    """Cases where torch's backward kernel copies (out == in, or out == 2 in for legacy nearest) while its
    forward kernel interpolates, because a scale_factor other than 1 (or 2) kept the size: bicubic (all axes
    equal) and 1-D nearest. The named tests below pin these; the property test steps around them."""
    if op != "interpolate" or "scale_factor" not in body:
        return False
    x = np.asarray(body["input"])
    nd = x.ndim - 2
    factors = body["scale_factor"] if isinstance(body["scale_factor"], list) else [body["scale_factor"]] * nd
    outs = [int(np.floor(n * f)) for n, f in zip(x.shape[2:], factors, strict=True)]
    if body["mode"] == "bicubic":
        return outs == list(x.shape[2:]) and any(f != 1 for f in factors)
    if body["mode"] == "nearest" and nd == 1:
        sizes = zip(outs, x.shape[2:], factors, strict=True)
        return any((o == n and f != 1) or (o == 2 * n and f != 2) for o, n, f in sizes)
    return False


@pytest.mark.parametrize(("op", "bodies"), OTHER_OPS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_toeplitz_reproduces_other_linear_ops(op: str, bodies: Any, data: st.DataObject) -> None:
    """C @ x = op(x) for the ops linear in their input (max_unpool: with distinct indices; repeated ones below)."""
    body = without_bias(data.draw(bodies(), label="body"))
    if op.startswith("max_unpool"):
        indices = np.asarray(body["indices"])
        planes = indices.reshape(indices.shape[0] * indices.shape[1], -1)
        assume(all(len(set(p.tolist())) == p.size for p in planes))
    assume(not torch_backward_shortcut(op, body))
    x = ref.to_array(body["input"])
    expected = ref.run(op, body)["output"]
    assume(expected.size * x.size <= TOEPLITZ_ENTRIES)
    result = run_op(op, body | {"extras": ["toeplitz"]})
    assert_close(np.asarray(result["toeplitz"]) @ x.ravel(), expected.ravel(), "C @ x")


def test_toeplitz_of_max_unpool_with_repeated_indices() -> None:
    """Overlapping max-pool windows repeat an index (with equal values): out[1] = 1, written twice.
    The contract says output = C @ input, so C's row 1 must hold a single 1 (or two halves), not [1, 1]."""
    body = {"input": [[[1.0, 1.0]]], "indices": [[[1, 1]]], "kernel_size": 2, "stride": 1, "output_size": [3]}
    result = run_op("max_unpool1d", body | {"extras": ["toeplitz"]})
    assert_close(np.asarray(result["output"]), np.array([[[0.0, 1.0, 0.0]]]), "output")
    matrix = np.asarray(result["toeplitz"])
    assert_close(matrix @ np.array([1.0, 1.0]), np.array([0.0, 1.0, 0.0]), "C @ x")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"input": [[[[0.0, 0.0, 0.0, 1.0]]]], "mode": "bicubic", "scale_factor": [1.0, 1.125]},
                     [0.0, 0.0, -0.10866769547325061, 0.6243141289437582], id="bicubic-scale-1.125-keeps-4"),
        pytest.param({"input": [[[1.0, 2.0]]], "mode": "nearest", "scale_factor": 1.25}, [1.0, 1.0],
                     id="1d-nearest-scale-1.25-keeps-2"),
    ],
)
def test_toeplitz_of_interpolate_when_a_scale_factor_keeps_the_size(body: dict[str, Any],
                                                                    expected: list[float]) -> None:
    """The output interpolates with scale 1/scale_factor (as the reference does), so C must too: C @ x = output."""
    result = run_op("interpolate", body | {"extras": ["toeplitz"]})
    assert_close(np.asarray(result["output"]).ravel(), np.array(expected), "output")
    assert_close(np.asarray(result["output"]).ravel(), ref.run("interpolate", body)["output"].ravel(), "reference")
    assert_close(np.asarray(result["toeplitz"]) @ ref.to_array(body["input"]).ravel(), np.array(expected), "C @ x")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_toeplitz_of_max_pool_selects_the_argmax(data: st.DataObject) -> None:
    """Around a given input max pooling is linear: row r of C is one-hot at the argmax index of output r."""
    body = data.draw(max_pool_bodies(2), label="body")
    result = run_op("max_pool2d", body | {"extras": ["toeplitz"]})
    x = ref.to_array(body["input"])
    plane = int(np.prod(x.shape[2:]))
    expected = np.zeros((result["output"].size, x.size))
    for row, cell in enumerate(ref.cells(result["indices"].shape)):
        n, c = cell[:2]
        expected[row, (n * x.shape[1] + c) * plane + int(result["indices"][cell])] = 1.0
    assert_close(np.asarray(result["toeplitz"]), expected, "max_pool C")


def test_lecture_toeplitz_4x4_input_3x3_kernel_is_4x16() -> None:
    """Row (oy, ox) holds w[ky, kx] at column (oy + ky) * 4 + (ox + kx): the kernel slid along a 16-vector."""
    w = np.arange(1.0, 10.0).reshape(3, 3)
    x = np.arange(16.0).reshape(4, 4)
    result = run_op("conv2d", {"input": [[x.tolist()]], "weight": [[w.tolist()]], "extras": ["toeplitz"]})
    expected = np.zeros((4, 16))
    for oy, ox in ref.cells((2, 2)):
        for ky, kx in ref.cells((3, 3)):
            expected[oy * 2 + ox, (oy + ky) * 4 + (ox + kx)] = w[ky, kx]
    matrix = np.asarray(result["toeplitz"])
    assert matrix.shape == (4, 16)
    assert_close(matrix, expected, "lecture C")
    assert_close(matrix @ x.ravel(), ref.conv(x[None, None], w[None, None]).ravel(), "C @ x")


# ---------------------------------------------------------------- im2col


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_im2col_times_flattened_weight_is_conv(nd: int, data: st.DataObject) -> None:
    """groups=1: output[n, o, pos] = im2col[n, pos, :] @ weight[o].flatten() + bias[o], every padding mode."""
    body = data.draw(conv_bodies(nd), label="body")
    c_in = np.asarray(body["input"]).shape[1]
    weight = ref.to_array(body["weight"])
    body |= {"groups": 1, "weight": np.resize(weight, (weight.shape[0], c_in, *weight.shape[2:])).tolist()}
    result = run_op(f"conv{nd}d", body | {"extras": ["im2col"]})
    p = params_of(body, nd)
    x, w = ref.to_array(body["input"]), ref.to_array(body["weight"])
    expected_cols = ref.im2col(x, p["kernel"], p["stride"], body.get("padding", 0), p["dilation"], p["padding_mode"])
    cols = np.asarray(result["im2col"])
    assert_close(cols, expected_cols, "im2col")
    product = np.einsum("nlk,ok->nol", cols, w.reshape(w.shape[0], -1))
    if "bias" in body:
        product = product + ref.to_array(body["bias"])[None, :, None]
    assert_close(product.reshape(result["output"].shape), np.asarray(result["output"]), "im2col @ w")


# ---------------------------------------------------------------- max_unpool


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_max_unpool_puts_each_maximum_back_and_zeros_elsewhere(nd: int, data: st.DataObject) -> None:
    body = data.draw(max_pool_bodies(nd), label="pool")
    body.pop("dilation", None)  # max_unpool has no dilation
    body["ceil_mode"] = False
    pooled = run_op(f"max_pool{nd}d", body)
    x = ref.to_array(body["input"])
    unpool_body = {k: v for k, v in body.items() if k in ("kernel_size", "stride", "padding")}
    unpool_body |= {"input": pooled["output"].tolist(), "indices": pooled["indices"].tolist(),
                    "output_size": list(x.shape[2:])}
    out = np.asarray(run_op(f"max_unpool{nd}d", unpool_body)["output"])
    assert out.shape == x.shape
    for n, c in ref.cells(x.shape[:2]):
        plane, values, indices = out[n, c].ravel(), pooled["output"][n, c].ravel(), pooled["indices"][n, c].ravel()
        assert all(plane[i] == v for i, v in zip(indices, values, strict=True))
        assert all(plane[i] == 0 for i in set(range(plane.size)) - set(indices.tolist()))
        assert all(plane[i] == x[n, c].ravel()[i] for i in indices)  # the maxima sit where they were


# ---------------------------------------------------------------- Dumoulin & Visin, relationships 1-15


@dataclass(frozen=True)
class Relationship:
    """A convolution (i, k, s, p, d) with output size o; `transposed` checks its transpose maps o back onto i."""

    i: int
    k: int
    o: int
    s: int = 1
    p: int = 0
    d: int = 1
    transposed: bool = False
    pooling: bool = False

    @property
    def a(self) -> int:
        """Relationship 14's a = (i + 2p - k) mod s: the rows the floor dropped, given back as output_padding."""
        return (self.i + 2 * self.p - self.d * (self.k - 1) - 1) % self.s


RELATIONSHIPS = [
    pytest.param(Relationship(i=4, k=3, o=2), id="relationship-1-no-padding-unit-strides"),
    pytest.param(Relationship(i=5, k=4, p=2, o=6), id="relationship-2-zero-padding-unit-strides"),
    pytest.param(Relationship(i=5, k=3, p=1, o=5), id="relationship-3-half-padding"),
    pytest.param(Relationship(i=5, k=3, p=2, o=7), id="relationship-4-full-padding"),
    pytest.param(Relationship(i=5, k=3, s=2, o=2), id="relationship-5-no-padding-non-unit-strides"),
    pytest.param(Relationship(i=5, k=3, s=2, p=1, o=3), id="relationship-6-padding-non-unit-strides"),
    pytest.param(Relationship(i=6, k=3, s=2, p=1, o=3), id="relationship-6-padding-non-unit-strides-i6"),
    pytest.param(Relationship(i=5, k=3, s=1, o=3, pooling=True), id="relationship-7-pooling"),
    pytest.param(Relationship(i=4, k=3, o=2, transposed=True), id="relationship-8-transposed-no-padding-unit-strides"),
    pytest.param(Relationship(i=5, k=4, p=2, o=6, transposed=True),
                 id="relationship-9-transposed-zero-padding-unit-strides"),
    pytest.param(Relationship(i=5, k=3, p=1, o=5, transposed=True), id="relationship-10-transposed-half-padding"),
    pytest.param(Relationship(i=5, k=3, p=2, o=7, transposed=True), id="relationship-11-transposed-full-padding"),
    pytest.param(Relationship(i=5, k=3, s=2, o=2, transposed=True),
                 id="relationship-12-transposed-no-padding-non-unit-strides"),
    pytest.param(Relationship(i=5, k=3, s=2, p=1, o=3, transposed=True),
                 id="relationship-13-transposed-padding-non-unit-strides"),
    pytest.param(Relationship(i=6, k=3, s=2, p=1, o=3, transposed=True),
                 id="relationship-14-transposed-padding-non-unit-strides-odd"),
    pytest.param(Relationship(i=7, k=3, d=2, o=3), id="relationship-15-dilated"),
]


def square(n: int, seed: int) -> list[list[list[list[float]]]]:
    rng = np.random.default_rng(seed)
    return rng.integers(-3, 4, (1, 1, n, n)).astype(float).tolist()


@pytest.mark.parametrize("rel", RELATIONSHIPS)
def test_dumoulin_visin_relationship(rel: Relationship) -> None:
    """o = floor((i + 2p - d(k-1) - 1)/s) + 1 through run_op; for 8-14 the transposed convolution maps
    o back to i with output_padding a (o' = s(i'-1) + a + k - 2p), and equals the paper's equivalent
    direct convolution: the input stretched by s-1 zeros between cells and a zeros on the bottom/right,
    padded by k - p - 1, convolved with the flipped kernel at unit stride."""
    assert ref.conv_output_size(rel.i, rel.k, rel.s, rel.p, rel.p, rel.d) == rel.o
    if rel.pooling:
        for op in ("max_pool2d", "avg_pool2d"):
            result = run_op(op, {"input": square(rel.i, 0), "kernel_size": rel.k, "stride": rel.s})
            assert result["shape"] == [1, 1, rel.o, rel.o], op
        return
    weight = square(rel.k, 1)
    conv = run_op("conv2d", {"input": square(rel.i, 0), "weight": weight, "stride": rel.s, "padding": rel.p,
                             "dilation": rel.d})
    assert conv["shape"] == [1, 1, rel.o, rel.o]
    if not rel.transposed:
        return
    assert ref.conv_transpose_output_size(rel.o, rel.k, rel.s, rel.p, rel.a, rel.d) == rel.i
    grad = square(rel.o, 2)
    transposed = run_op("conv_transpose2d", {"input": grad, "weight": weight, "stride": rel.s, "padding": rel.p,
                                             "output_padding": rel.a})
    assert transposed["shape"] == [1, 1, rel.i, rel.i]
    # the paper's picture: stretch, pad k - p - 1, flip the kernel, stride 1
    stretched_size = (rel.o - 1) * rel.s + 1 + rel.a
    stretched = np.zeros((1, 1, stretched_size, stretched_size))
    stretched[:, :, : (rel.o - 1) * rel.s + 1 : rel.s, : (rel.o - 1) * rel.s + 1 : rel.s] = grad
    flipped = np.asarray(weight)[:, :, ::-1, ::-1]
    direct = run_op("conv2d", {"input": stretched.tolist(), "weight": flipped.tolist(), "padding": rel.k - rel.p - 1})
    assert direct["shape"] == [1, 1, rel.i, rel.i]
    assert_close(np.asarray(transposed["output"]), np.asarray(direct["output"]), "transposed vs direct")
