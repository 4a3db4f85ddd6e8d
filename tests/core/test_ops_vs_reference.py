"""Hypothesis: every op `server.core.ops.run_op` serves agrees with the loop reference (tests/reference.py).

The strategies draw only parameter combinations torch accepts, derived from its
rules rather than filtered after the fact: output sizes >= 1, pool padding <=
kernel // 2, output_padding < max(stride, dilation), 'same' only with stride 1,
reflect padding < input size, circular padding <= input size, max_unpool's
output_size within (default - stride, default + stride). Values are small
integers or floats in [-5, 5]; comparisons are float64 with rel. tolerance 1e-9.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convscope.core.ops import OPS, run_op
from tests import reference as ref

EXAMPLES = settings(max_examples=200, deadline=None)
RTOL = 1e-9
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
DIMS = [pytest.param(1, id="1d"), pytest.param(2, id="2d")]


# ---------------------------------------------------------------- comparison


def assert_close(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Same shape, and equal to rel. 1e-9 (absolute 1e-9 times the magnitude, for sums that cancel)."""
    got = np.asarray(got)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, reference {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale, err_msg=what)


# ---------------------------------------------------------------- strategies: values and parameters


@st.composite
def tensors(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Small integers, or floats, in [-5, 5]."""
    if draw(st.booleans()):
        elements = st.integers(-5, 5).map(float)
    else:
        elements = st.floats(-5, 5, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return draw(hnp.arrays(np.float64, shape, elements=elements))


def as_json(values: tuple[int, ...], draw: st.DrawFn) -> int | list[int]:
    """A per-axis parameter the way a client may write it: an int when all axes agree, else a list."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return list(values)


def per_axis(draw: st.DrawFn, nd: int, strategy: st.SearchStrategy[int]) -> tuple[int, ...]:
    return tuple(draw(strategy) for _ in range(nd))


def put(draw: st.DrawFn, body: dict[str, Any], key: str, value: Any, default: Any) -> None:
    """Set body[key], sometimes leaving a default value out so torch's defaults are exercised too."""
    if value == default and draw(st.booleans()):
        return
    body[key] = value


def size_range(lo: int, hi: int = 9) -> st.SearchStrategy[int]:
    """Input sizes from lo (what the parameters need) to 9, or exactly lo when that exceeds 9."""
    return st.integers(lo, max(lo, hi))


# ---------------------------------------------------------------- strategies: one body per op


@st.composite
def conv_bodies(draw: st.DrawFn, nd: int) -> dict[str, Any]:
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = per_axis(draw, nd, st.integers(1, 4))
    dilation = per_axis(draw, nd, st.integers(1, 3))
    kind = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    stride = (1,) * nd if kind == "same" else per_axis(draw, nd, st.integers(1, 3))
    mode = draw(st.sampled_from(PADDING_MODES))
    if kind in ("same", "valid"):
        padding: Any = kind
        pads = ref.resolve_conv_padding(kind, kernel, dilation)
    elif kind == "int":
        padding = draw(st.integers(0, 3))
        pads = [(padding, padding)] * nd
    else:
        per = per_axis(draw, nd, st.integers(0, 3))
        padding, pads = list(per), [(p, p) for p in per]
    sizes = []
    for a in range(nd):
        lo = max(1, dilation[a] * (kernel[a] - 1) + 1 - sum(pads[a]))
        if mode == "reflect":
            lo = max(lo, max(pads[a]) + 1)
        if mode == "circular":
            lo = max(lo, max(pads[a]))
        sizes.append(draw(size_range(lo)))
    x = draw(tensors((draw(st.integers(1, 2)), c_in, *sizes)))
    w = draw(tensors((c_out, c_in // groups, *kernel)))
    body: dict[str, Any] = {"input": x.tolist(), "weight": w.tolist()}
    if draw(st.booleans()):
        body["bias"] = draw(tensors((c_out,))).tolist()
    put(draw, body, "stride", as_json(stride, draw), 1)
    put(draw, body, "padding", padding, 0)
    put(draw, body, "dilation", as_json(dilation, draw), 1)
    put(draw, body, "groups", groups, 1)
    put(draw, body, "padding_mode", mode, "zeros")
    return body


@st.composite
def conv_transpose_bodies(draw: st.DrawFn, nd: int) -> dict[str, Any]:
    groups = draw(st.integers(1, 3))
    c_in, c_out_group = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = per_axis(draw, nd, st.integers(1, 4))
    stride = per_axis(draw, nd, st.integers(1, 3))
    dilation = per_axis(draw, nd, st.integers(1, 3))
    output_padding = tuple(draw(st.integers(0, max(stride[a], dilation[a]) - 1)) for a in range(nd))
    sizes = per_axis(draw, nd, st.integers(1, 6))
    padding = []
    for a in range(nd):
        unpadded = ref.conv_transpose_output_size(sizes[a], kernel[a], stride[a], 0, output_padding[a], dilation[a])
        padding.append(draw(st.integers(0, min(3, (unpadded - 1) // 2))))  # keeps the output >= 1
    x = draw(tensors((draw(st.integers(1, 2)), c_in, *sizes)))
    w = draw(tensors((c_in, c_out_group, *kernel)))
    body: dict[str, Any] = {"input": x.tolist(), "weight": w.tolist()}
    if draw(st.booleans()):
        body["bias"] = draw(tensors((groups * c_out_group,))).tolist()
    put(draw, body, "stride", as_json(stride, draw), 1)
    put(draw, body, "padding", as_json(tuple(padding), draw), 0)
    put(draw, body, "output_padding", as_json(output_padding, draw), 0)
    put(draw, body, "dilation", as_json(dilation, draw), 1)
    put(draw, body, "groups", groups, 1)
    return body


def windows_reach_input(n: int, k: int, s: int, p: int, d: int, out: int) -> bool:
    """Every max-pool window has at least one tap inside the input (else torch returns -inf)."""
    return all(any(0 <= o * s - p + t * d < n for t in range(k)) for o in range(out))


@st.composite
def pool_params(draw: st.DrawFn, nd: int, dilated: bool) -> dict[str, Any]:
    """kernel, stride (None = kernel), padding <= k // 2, dilation, ceil_mode and matching input sizes."""
    kernel = per_axis(draw, nd, st.integers(1, 4))
    stride = None if draw(st.booleans()) else per_axis(draw, nd, st.integers(1, 3))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = per_axis(draw, nd, st.integers(1, 3)) if dilated else (1,) * nd
    ceil_mode = draw(st.booleans())
    s = stride or kernel
    sizes = tuple(draw(size_range(max(1, dilation[a] * (kernel[a] - 1) + 1 - 2 * padding[a]))) for a in range(nd))
    for a in range(nd):
        out = ref.pool_output_size(sizes[a], kernel[a], s[a], padding[a], dilation[a], ceil_mode)
        assume(out >= 1 and windows_reach_input(sizes[a], kernel[a], s[a], padding[a], dilation[a], out))
    return {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation,
            "ceil_mode": ceil_mode, "sizes": sizes}


def pool_body(draw: st.DrawFn, x: np.ndarray, params: dict[str, Any], dilated: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"input": x.tolist(), "kernel_size": as_json(params["kernel"], draw)}
    if params["stride"] is not None:
        body["stride"] = as_json(params["stride"], draw)
    put(draw, body, "padding", as_json(params["padding"], draw), 0)
    if dilated:
        put(draw, body, "dilation", as_json(params["dilation"], draw), 1)
    put(draw, body, "ceil_mode", params["ceil_mode"], False)
    return body


@st.composite
def max_pool_bodies(draw: st.DrawFn, nd: int) -> dict[str, Any]:
    params = draw(pool_params(nd, dilated=True))
    x = draw(tensors((draw(st.integers(1, 2)), draw(st.integers(1, 2)), *params["sizes"])))
    return pool_body(draw, x, params, dilated=True)


@st.composite
def avg_pool_bodies(draw: st.DrawFn, nd: int) -> dict[str, Any]:
    params = draw(pool_params(nd, dilated=False))
    x = draw(tensors((draw(st.integers(1, 2)), draw(st.integers(1, 2)), *params["sizes"])))
    body = pool_body(draw, x, params, dilated=False)
    put(draw, body, "count_include_pad", draw(st.booleans()), True)
    return body


@st.composite
def max_unpool_bodies(draw: st.DrawFn, nd: int) -> dict[str, Any]:
    """Indices either from max-pooling a drawn input (the usual pairing), or distinct random cells."""
    kernel = per_axis(draw, nd, st.integers(1, 4))
    stride = None if draw(st.booleans()) else per_axis(draw, nd, st.integers(1, 3))
    s = stride or kernel
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    body: dict[str, Any] = {"kernel_size": as_json(kernel, draw)}
    if stride is not None:
        body["stride"] = as_json(stride, draw)
    put(draw, body, "padding", as_json(padding, draw), 0)
    batch, chans = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    if draw(st.booleans()):
        sizes = tuple(draw(size_range(max(1, kernel[a] - 2 * padding[a]))) for a in range(nd))
        x = draw(tensors((batch, chans, *sizes)))
        values, indices = ref.max_pool(x, kernel, s, padding)
        defaults = [ref.unpool_output_size(values.shape[2 + a], kernel[a], s[a], padding[a]) for a in range(nd)]
        assume(all(d >= 1 for d in defaults))
        if list(sizes) != defaults or draw(st.booleans()):
            body["output_size"] = list(sizes) if draw(st.booleans()) else [batch, chans, *sizes]
        out_sizes = list(sizes)
    else:
        pooled = per_axis(draw, nd, st.integers(1, 4))
        defaults = [ref.unpool_output_size(pooled[a], kernel[a], s[a], padding[a]) for a in range(nd)]
        assume(all(d + s[a] - 1 >= 1 for a, d in enumerate(defaults)))  # torch: default - s < size < default + s
        out_sizes = [draw(st.integers(max(1, d - s[a] + 1), d + s[a] - 1)) for a, d in enumerate(defaults)]
        plane, count = math.prod(out_sizes), math.prod(pooled)
        assume(plane >= count)
        if out_sizes != defaults or draw(st.booleans()):
            body["output_size"] = out_sizes
        values = draw(tensors((batch, chans, *pooled)))
        cells = [draw(st.permutations(range(plane)))[:count] for _ in range(batch * chans)]
        indices = np.array(cells, dtype=np.int64).reshape(batch, chans, *pooled)
    body["input"], body["indices"] = values.tolist(), indices.tolist()
    return body


NICE_SCALES = (0.5, 0.6, 0.75, 1.0, 1.1, 1.25, 1.5, 1.7, 2.0, 2.5, 3.0, 1 / 3, 2 / 3)


@st.composite
def interpolate_bodies(draw: st.DrawFn, nd: int, mode: str) -> dict[str, Any]:
    sizes = per_axis(draw, nd, st.integers(1, 9))
    x = draw(tensors((draw(st.integers(1, 2)), draw(st.integers(1, 2)), *sizes)))
    body: dict[str, Any] = {"input": x.tolist(), "mode": mode}
    if draw(st.booleans()):
        size = per_axis(draw, nd, st.integers(1, 20))
        body["size"] = as_json(size, draw)
    else:
        scale = st.sampled_from(NICE_SCALES) | st.floats(0.3, 3.5, allow_nan=False, allow_infinity=False)
        factors = per_axis(draw, nd, scale)  # type: ignore[arg-type]
        assume(all(math.floor(n * f) >= 1 for n, f in zip(sizes, factors, strict=True)))
        body["scale_factor"] = factors[0] if len(set(factors)) == 1 and draw(st.booleans()) else list(factors)
    if mode in ("linear", "bilinear", "bicubic"):
        corners = draw(st.sampled_from([None, True, False]))
        if corners is not None:
            body["align_corners"] = corners
    return body


# ---------------------------------------------------------------- the properties


def check_output(op: str, body: dict[str, Any]) -> dict[str, Any]:
    """run_op's output and shape equal the reference's; returns run_op's result."""
    result = run_op(op, body)
    expected = ref.run(op, body)["output"]
    assert_close(result["output"], expected, f"{op} output")
    assert list(result["shape"]) == list(expected.shape)
    return result


def test_every_op_is_covered() -> None:
    assert set(OPS) >= {"conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
                        "avg_pool1d", "avg_pool2d", "max_unpool1d", "max_unpool2d", "interpolate"}


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_conv_matches_reference(nd: int, data: st.DataObject) -> None:
    check_output(f"conv{nd}d", data.draw(conv_bodies(nd), label="body"))


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_conv_transpose_matches_reference(nd: int, data: st.DataObject) -> None:
    check_output(f"conv_transpose{nd}d", data.draw(conv_transpose_bodies(nd), label="body"))


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_max_pool_values_and_indices_match_reference(nd: int, data: st.DataObject) -> None:
    """Values always; indices exactly where the window's maximum is unique, and where it is
    tied, an index of a maximal cell of that window."""
    body = data.draw(max_pool_bodies(nd), label="body")
    result = check_output(f"max_pool{nd}d", body)
    x = ref.to_array(body["input"])
    expected_indices = ref.run(f"max_pool{nd}d", body)["indices"]
    indices = np.asarray(result["indices"])
    assert indices.shape == expected_indices.shape and indices.dtype == np.int64
    in_size = x.shape[2:]
    kernel = ref.as_tuple(body["kernel_size"], nd)
    stride = ref.as_tuple(body.get("stride", kernel), nd)
    padding, dilation = ref.as_tuple(body.get("padding", 0), nd), ref.as_tuple(body.get("dilation", 1), nd)
    for cell in ref.cells(indices.shape):
        n, c, *pos = cell
        window = ref.pool_window(pos, in_size, kernel, stride, padding, dilation)
        window_values = [x[(n, c, *src)] for src in window]
        best = max(window_values)
        got = int(indices[cell])
        if window_values.count(best) == 1:
            assert got == expected_indices[cell], f"index at {cell}: {got}, reference {expected_indices[cell]}"
        else:
            flat_window = [ref.flat_index(src, in_size) for src in window]
            assert got in flat_window, f"index {got} at {cell} is outside its window {flat_window}"
            assert x[(n, c, *ref.unflat_index(got, in_size))] == best, f"index {got} at {cell} is not a maximum"


@pytest.mark.parametrize("nd", DIMS)
def test_max_pool_ties_go_to_the_first_tap(nd: int) -> None:
    """torch's CPU kernel keeps the first maximum in row-major scan order (strict `>`); so does the reference."""
    shape = (1, 1, 4) if nd == 1 else (1, 1, 4, 4)
    body = {"input": np.full(shape, 2.0).tolist(), "kernel_size": 2, "stride": 1}
    result = run_op(f"max_pool{nd}d", body)
    assert np.array_equal(result["indices"], ref.run(f"max_pool{nd}d", body)["indices"])


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_avg_pool_matches_reference(nd: int, data: st.DataObject) -> None:
    check_output(f"avg_pool{nd}d", data.draw(avg_pool_bodies(nd), label="body"))


@pytest.mark.parametrize("nd", DIMS)
@EXAMPLES
@given(data=st.data())
def test_max_unpool_matches_reference(nd: int, data: st.DataObject) -> None:
    check_output(f"max_unpool{nd}d", data.draw(max_unpool_bodies(nd), label="body"))


@pytest.mark.parametrize(
    ("nd", "mode"),
    [
        pytest.param(1, "nearest", id="1d-nearest"),
        pytest.param(1, "nearest-exact", id="1d-nearest-exact"),
        pytest.param(1, "linear", id="1d-linear"),
        pytest.param(2, "nearest", id="2d-nearest"),
        pytest.param(2, "nearest-exact", id="2d-nearest-exact"),
        pytest.param(2, "bilinear", id="2d-bilinear"),
        pytest.param(2, "bicubic", id="2d-bicubic"),
    ],
)
@EXAMPLES
@given(data=st.data())
def test_interpolate_matches_reference(nd: int, mode: str, data: st.DataObject) -> None:
    check_output("interpolate", data.draw(interpolate_bodies(nd, mode), label="body"))
