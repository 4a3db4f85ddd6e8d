"""Receptive fields: the course's and the papers' published numbers, and the theory against autograd —
every pixel with a nonzero gradient lies in the unit's region, and the region is tight where it should be."""
from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convscope.core import layers, presets, receptive
from convscope.core.exceptions import InvalidRequest, TooLarge


def _table(preset_id: str) -> dict[str, dict[str, Any]]:
    p = presets.get_preset(preset_id)
    result = receptive.receptive_field(p["input_size"], p["layers"], input_shape=p["input_shape"])
    return {e["name"]: e for e in result["layers"]}


ALEXNET_NAMES = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]


@pytest.mark.parametrize("preset_id", ["alexnet-torchvision", "alexnet-original"])
def test_alexnet(preset_id):
    table = _table(preset_id)
    assert [table[n]["n"][0] for n in ALEXNET_NAMES] == [55, 27, 27, 13, 13, 13, 13, 6]
    assert [table[n]["r"][0] for n in ALEXNET_NAMES] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [table[n]["j"][0] for n in ALEXNET_NAMES] == [4, 8, 8, 16, 16, 16, 16, 32]


@pytest.mark.parametrize(("name", "r"), [
    pytest.param("conv1_1", 3, id="conv1_1"), pytest.param("pool1", 6, id="pool1"),
    pytest.param("conv5_3", 196, id="conv5_3"), pytest.param("pool5", 212, id="pool5")])
def test_vgg16(name, r):
    assert _table("vgg16")[name]["r"] == [r, r]


def test_dilated_1_2_4_gives_3_7_15():
    table = _table("dilated-1-2-4")
    assert [table[f"conv{i}"]["r"][0] for i in (1, 2, 3)] == [3, 7, 15]


def test_the_lecture_example():
    result = receptive.receptive_field([5, 5], presets.get_preset("lecture-two-convs")["layers"],
                                       unit={"layer": 2, "y": 1, "x": 0})
    rows = [(e["n"][0], e["j"][0], e["r"][0], e["start"][0]) for e in result["layers"]]
    assert rows == [(5, 1, 1, 0.5), (3, 2, 3, 0.5), (2, 4, 7, 0.5)]
    assert result["layers"][0] == {"name": "input", "op": "input", "n": [5, 5], "j": [1, 1], "r": [1, 1],
                                   "start": [0.5, 0.5]}
    # unit (1, 0) of layer 2: centre (4.5, 0.5), ± 3.5
    assert result["region"] == {"y0": 1, "y1": 8, "x0": -3, "x1": 4}
    assert result["clipped"] == {"y0": 1, "y1": 5, "x0": 0, "x1": 4}


def test_resnet_stem_and_non_square_layers():
    table = _table("resnet18-stem")
    assert (table["conv1"]["r"], table["maxpool"]["r"], table["maxpool"]["j"]) == ([7, 7], [11, 11], [4, 4])
    result = receptive.receptive_field([9, 16], [{"op": "conv2d", "out_channels": 1, "kernel_size": [3, 5],
                                                  "stride": [1, 2], "padding": [0, 2], "dilation": [2, 1]}])
    assert result["layers"][1] == {"name": "conv1", "op": "conv2d", "n": [5, 8], "j": [1, 2], "r": [5, 5],
                                   "start": [2.5, 0.5]}


@pytest.mark.parametrize(("layer", "j", "r", "start"), [
    # conv_transpose2d: j / s, r + d(k−1)·j_out, start + (p − d(k−1)/2)·j_out
    pytest.param({"op": "conv_transpose2d", "out_channels": 1, "kernel_size": 4, "stride": 2, "padding": 1},
                 0.5, 2.5, 0.25, id="transpose-k4-s2-p1"),
    pytest.param({"op": "conv_transpose2d", "out_channels": 1, "kernel_size": 3, "stride": 1}, 1, 3, -0.5,
                 id="transpose-s1"),
    pytest.param({"op": "max_unpool2d", "kernel_size": 2}, 0.5, 1.5, 0.25, id="unpool"),
    pytest.param({"op": "interpolate", "scale_factor": 2}, 0.5, 1.5, 0.25, id="nearest-x2"),
    pytest.param({"op": "interpolate", "scale_factor": 3}, 1 / 3, 5 / 3, 1 / 6, id="nearest-x3"),
    pytest.param({"op": "interpolate", "scale_factor": 2, "mode": "bilinear"}, 0.5, 2.5, 0.25, id="bilinear-x2"),
    pytest.param({"op": "interpolate", "size": 15, "mode": "bilinear", "align_corners": True}, 0.5, 2, 0.5,
                 id="bilinear-align-corners"),
    pytest.param({"op": "adaptive_avg_pool2d", "output_size": 4}, 2, 2, 1, id="adaptive-even"),
])
def test_upsampling_layers(layer, j, r, start):
    entry = receptive.receptive_field([8, 8], [layer])["layers"][1]
    assert entry["j"][0] == pytest.approx(j) and entry["r"][0] == pytest.approx(r)
    assert entry["start"][0] == pytest.approx(start)


def test_flatten_gives_every_unit_the_whole_map():
    result = receptive.receptive_field([6, 6], [{"op": "conv2d", "out_channels": 2, "kernel_size": 3},
                                                {"op": "flatten"}, {"op": "linear", "out_features": 3}])
    assert [e["n"] for e in result["layers"][2:]] == [[1, 1], [1, 1]]
    assert result["layers"][3]["r"] == [6, 6] and result["layers"][3]["start"] == [3, 3]


def _effective(shape: list[int], stack: list[dict[str, Any]], unit: dict[str, int], weights: str, seed: int = 0):
    return receptive.receptive_field(None, stack, unit, input_shape=shape,
                                     effective={"weights": weights, "seed": seed})


def _heat(result: dict[str, Any]) -> np.ndarray:
    heat = result["effective"]["heatmap"]
    if heat["encoding"] == "list":
        return np.array(heat["data"])
    return np.frombuffer(base64.b64decode(heat["data"]), np.uint8).reshape(heat["height"], heat["width"])


def _inside(bbox: dict[str, int] | None, box: dict[str, int]) -> bool:
    return bbox is None or (box["y0"] <= bbox["y0"] and bbox["y1"] <= box["y1"] and box["x0"] <= bbox["x0"]
                            and bbox["x1"] <= box["x1"])


def _same(bbox: dict[str, int] | None, box: dict[str, int]) -> bool:
    if bbox is None:
        return box["y0"] == box["y1"] or box["x0"] == box["x1"]
    return bbox == box


@pytest.mark.parametrize("layer", [
    pytest.param({"op": "conv_transpose2d", "out_channels": 1, "kernel_size": 4, "stride": 2, "padding": 1},
                 id="fcn-upsample-k4-s2-p1"),
    pytest.param({"op": "conv_transpose2d", "out_channels": 1, "kernel_size": 3, "stride": 1, "padding": 1},
                 id="transpose-s1"),
    pytest.param({"op": "interpolate", "scale_factor": 2}, id="nearest-x2"),
    pytest.param({"op": "interpolate", "scale_factor": 2, "mode": "bilinear"}, id="bilinear-x2"),
])
def test_one_upsampling_layer_is_exact_for_every_unit(layer):
    """After one upsampling layer the whole pixels of centre ± r/2 are exactly what each unit reads."""
    n = receptive.receptive_field([5, 5], [layer])["layers"][1]["n"][0]
    for y in range(n):
        result = _effective([1, 5, 5], [layer], {"layer": 1, "y": y, "x": n // 2}, "constant")
        assert _same(result["effective"]["bbox"], result["clipped"]), (y, result["effective"]["bbox"])


# ---------------------------------------------------------------- random stacks against autograd
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _layer(draw: Any, ops: tuple[str, ...], tight: bool, modes: bool = False) -> dict[str, Any]:
    """One random layer; with `modes`, conv2d also draws padding_mode (and padding up to k + 1) and
    max_pool2d its dilation."""
    op = draw(st.sampled_from(ops))
    if op == "conv2d":
        k = draw(st.integers(1, 4))
        s = draw(st.integers(1, k if tight else 3))
        layer = {"op": op, "out_channels": draw(st.integers(1, 2)), "kernel_size": k, "stride": s,
                 "padding": draw(st.integers(0, k + 1 if modes else k - 1)),
                 "dilation": 1 if tight else draw(st.integers(1, 3))}
        return layer | ({"padding_mode": draw(st.sampled_from(PADDING_MODES))} if modes else {})
    if op in ("max_pool2d", "avg_pool2d"):
        k = draw(st.integers(2, 3))
        layer = {"op": op, "kernel_size": k, "stride": draw(st.integers(1, k)),
                 "padding": draw(st.integers(0, k // 2)), "ceil_mode": draw(st.booleans())}
        return layer | ({"dilation": draw(st.integers(1, 3))} if modes and op == "max_pool2d" else {})
    if op == "conv_transpose2d":
        s = 1 if tight else draw(st.integers(1, 3))
        k = draw(st.integers(1, 4))
        return {"op": op, "out_channels": draw(st.integers(1, 2)), "kernel_size": k, "stride": s,
                "padding": draw(st.integers(0, (k - 1) // 2)), "output_padding": draw(st.integers(0, s - 1))}
    if op == "interpolate":
        mode = draw(st.sampled_from(["nearest", "bilinear", "bicubic", "nearest-exact"]))
        return {"op": op, "scale_factor": draw(st.sampled_from([2, 1.5, 0.5]))} | {"mode": mode}
    if op == "max_unpool2d":
        return {"op": op, "kernel_size": 2}
    return {"op": op}


@st.composite
def stacks(draw: Any, ops: tuple[str, ...], tight: bool = False, modes: bool = False
           ) -> tuple[list[int], list[dict[str, Any]], dict]:
    shape = [draw(st.integers(1, 2)), draw(st.integers(3, 14)), draw(st.integers(3, 14))]
    stack: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        layer = _layer(draw, ops, tight, modes)
        try:
            walked = layers.walk(shape, stack + [layer])
        except InvalidRequest:
            continue
        _, h, w = walked[-1].output_shape
        n_in = walked[-1].input_shape[1:]
        if max(h, w) > 40:
            continue
        if tight and layer["op"] != "relu" and not layer.get("ceil_mode") and any(  # no cell dropped by the floor
                (n + 2 * layer.get("padding", 0) - layer["kernel_size"]) % layer.get("stride", 1) for n in n_in):
            continue
        stack.append(layer)
    assume(stack)
    table = receptive.entries(tuple(shape), stack)  # type: ignore[arg-type]
    k = draw(st.integers(1, len(stack)))
    unit = {"layer": k, "y": draw(st.integers(0, table[k].axes[0].n - 1)),
            "x": draw(st.integers(0, table[k].axes[1].n - 1))}
    return shape, stack, unit


ANY_LAYER = ("conv2d", "max_pool2d", "avg_pool2d", "conv_transpose2d", "interpolate", "max_unpool2d", "relu")


@settings(max_examples=100)
@given(case=stacks(ANY_LAYER), seed=st.integers(0, 2**32))
def test_every_nonzero_gradient_lies_in_the_region(case, seed):
    shape, stack, unit = case
    result = _effective(shape, stack, unit, "random", seed)
    assert _inside(result["effective"]["bbox"], result["clipped"]), (stack, unit, result["effective"]["bbox"])


def _read(result: dict[str, Any]) -> tuple[set[int], set[int]]:
    """The rows and the columns that hold a pixel with a nonzero gradient."""
    heat = _heat(result)
    return set(np.flatnonzero(heat.any(axis=1)).tolist()), set(np.flatnonzero(heat.any(axis=0)).tolist())


def _claimed(result: dict[str, Any]) -> tuple[set[int], set[int]]:
    """The rows and the columns of clipped together with the wrapped parts (none of either when one axis
    has none: the claimed pixels are every row with every column)."""
    c, w = result["clipped"], result["wrapped"]
    rows = set(range(c["y0"], c["y1"])).union(*(range(a, b) for a, b in w["y"]))
    cols = set(range(c["x0"], c["x1"])).union(*(range(a, b) for a, b in w["x"]))
    return (rows, cols) if rows and cols else (set(), set())


MOSTLY_CONV = ("conv2d",) * 6 + ANY_LAYER  # so that most stacks hold a conv with a copying padding_mode


@settings(max_examples=150)
@given(case=stacks(MOSTLY_CONV, modes=True), seed=st.integers(0, 2**32))
def test_every_nonzero_gradient_lies_in_the_region_or_its_wrapped_parts(case, seed):
    """Every padding_mode and pool dilation: a pixel with a nonzero gradient lies in a row and a column of
    clipped or of the wrapped parts; with zeros padding only, there are no wrapped parts."""
    shape, stack, unit = case
    result = _effective(shape, stack, unit, "random", seed)
    rows, cols = _read(result)
    claimed_rows, claimed_cols = _claimed(result)
    assert rows <= claimed_rows and cols <= claimed_cols, (stack, unit, result["clipped"], result["wrapped"])
    for axis in ("y", "x"):
        c0, c1 = result["clipped"][f"{axis}0"], result["clipped"][f"{axis}1"]
        assert all(b <= c0 or a >= c1 for a, b in result["wrapped"][axis])  # outside clipped, as documented
    if all(layer.get("padding_mode", "zeros") == "zeros" for layer in stack):
        assert result["wrapped"] == {"y": [], "x": []}


@settings(max_examples=80)
@given(size=st.tuples(st.integers(3, 12), st.integers(3, 12)), k=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 5), mode=st.sampled_from(PADDING_MODES), data=st.data())
def test_one_conv_reads_exactly_its_clipped_and_wrapped_pixels(size, k, stride, padding, mode, data):
    """One conv2d without dilation and with positive weights: every pixel of clipped and of the wrapped
    parts has a nonzero gradient, and no other does."""
    layer = {"op": "conv2d", "out_channels": 1, "kernel_size": k, "stride": stride, "padding": padding,
             "padding_mode": mode}
    try:
        (walked,) = layers.walk([1, *size], [layer])
    except InvalidRequest:
        assume(False)
    unit = {"layer": 1, "y": data.draw(st.integers(0, walked.output_shape[1] - 1)),
            "x": data.draw(st.integers(0, walked.output_shape[2] - 1))}
    result = _effective([1, *size], [layer], unit, "constant")
    assert _read(result) == _claimed(result), (layer, unit, result["clipped"], result["wrapped"])


def test_circular_padding_wraps_the_field_to_the_far_edge():
    layer = {"op": "conv2d", "out_channels": 1, "kernel_size": 5, "padding": 2, "padding_mode": "circular"}
    result = _effective([1, 8, 8], [layer], {"layer": 1, "y": 0, "x": 7}, "constant")
    assert result["clipped"] == {"y0": 0, "y1": 3, "x0": 5, "x1": 8}
    assert result["wrapped"] == {"y": [[6, 8]], "x": [[0, 2]]}
    reflect = layer | {"kernel_size": 3, "padding_mode": "reflect"}  # p = 2 > d(k−1)/2 = 1
    result = _effective([1, 8, 8], [reflect], {"layer": 1, "y": 0, "x": 0}, "constant")
    assert result["clipped"] == {"y0": 0, "y1": 1, "x0": 0, "x1": 1}
    assert result["wrapped"] == {"y": [[1, 3]], "x": [[1, 3]]}


@settings(max_examples=60)
@given(case=stacks(("conv2d", "avg_pool2d", "conv_transpose2d", "relu"), tight=True))
def test_the_region_is_tight_without_gaps(case):
    """Positive weights, kernels at least as wide as strides, no dilation, no cell dropped by the floor:
    the nonzero gradient fills exactly the clipped region."""
    shape, stack, unit = case
    result = _effective(shape, stack, unit, "constant")
    assert _same(result["effective"]["bbox"], result["clipped"]), (stack, unit, result["effective"]["bbox"])


def test_heatmap_list_and_base64():
    small = _effective([1, 8, 8], [{"op": "conv2d", "out_channels": 1, "kernel_size": 3}], {"layer": 1, "y": 0, "x": 0},
                       "constant")["effective"]
    assert small["heatmap"]["encoding"] == "list" and small["nonzero"] == 9
    assert small["bbox"] == {"y0": 0, "y1": 3, "x0": 0, "x1": 3}
    assert np.array(small["heatmap"]["data"])[:3, :3] == pytest.approx(np.full((3, 3), 1 / 9))
    big = _effective([1, 80, 70], [{"op": "conv2d", "out_channels": 1, "kernel_size": 5}],
                     {"layer": 1, "y": 10, "x": 20}, "random")
    heat = _heat(big)
    assert heat.shape == (80, 70) and heat.max() == 255
    assert np.argwhere(heat > 0).min(axis=0).tolist() == [10, 20]


def test_effective_for_the_encoder_decoder_pairs_unpool_with_its_pool():
    p = presets.get_preset("encoder-decoder")
    result = receptive.receptive_field(None, p["layers"], {"layer": "dec2", "y": 7, "x": 7}, p["input_shape"],
                                       {"weights": "constant", "channels": 1})
    effective = result["effective"]
    assert effective["nonzero"] > 0 and _inside(effective["bbox"], result["clipped"])
    # the unpooled values sit where pool2's maxima were: one pixel per 2×2 window of enc2's 4×4 field each
    assert effective["nonzero"] < (result["clipped"]["y1"] - result["clipped"]["y0"]) ** 2


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    pytest.param({"unit": {"layer": 1, "y": 3, "x": 0}}, InvalidRequest, "unit.y must be an integer from 0 to 2",
                 id="unit-out-of-range"),
    pytest.param({"unit": {"layer": "conv9", "y": 0, "x": 0}}, InvalidRequest, "names no layer", id="unit-name"),
    pytest.param({"unit": {"layer": 3, "y": 0, "x": 0}}, InvalidRequest, "from 0 (the input) to 2", id="unit-layer"),
    pytest.param({"effective": {}}, InvalidRequest, "effective needs a unit", id="effective-without-unit"),
    pytest.param({"unit": {"layer": 1}, "effective": {"weight": "constant"}}, InvalidRequest, "no option 'weight'",
                 id="effective-option"),
    pytest.param({"unit": {"layer": 1}, "effective": {"weights": "zeros"}}, InvalidRequest, "'constant' or 'random'",
                 id="effective-weights"),
])
def test_refusals(kwargs, error, fragment):
    with pytest.raises(error) as info:
        receptive.receptive_field([5, 5], presets.get_preset("lecture-two-convs")["layers"], **kwargs)
    assert fragment in info.value.message


def test_a_costly_effective_field_is_413_with_a_hint():
    p = presets.get_preset("vgg16")
    with pytest.raises(TooLarge) as info:
        receptive.receptive_field(None, p["layers"], {"layer": "pool5"}, p["input_shape"], {})
    assert '"channels": 1' in info.value.message
