"""The shape arithmetic of a stack: every preset and random stacks against torch.nn modules (on the meta
device: shapes and parameter counts without arithmetic), the published parameter counts, the formulas,
and the teaching sentence of an impossible layer."""
from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from convscope.core import layers, presets
from convscope.core.exceptions import InvalidRequest

META = torch.device("meta")


def torch_modules(input_shape: list[int], stack: list[dict[str, Any]], device: torch.device = META
                  ) -> tuple[list[tuple[int, ...]], list[int]]:
    """Build each layer as its torch.nn module and run it: the output shape (no batch axis) and the
    parameter count of every layer, as torch sees them. On the meta device nothing is computed (but a
    few legality checks live only in the CPU kernels, so random stacks run on small CPU zeros)."""
    x = torch.zeros(1, *input_shape, device=device)
    pools: list[tuple[torch.Tensor, torch.Tensor]] = []
    out_shapes, counts = [], []
    for raw in stack:
        a = {k: v for k, v in raw.items() if k not in ("op", "name")}
        op, c = raw["op"], x.shape[1] if x.dim() > 1 else None
        if op == "conv2d":
            m = nn.Conv2d(c, a["out_channels"], a["kernel_size"], a.get("stride", 1), a.get("padding", 0),
                          a.get("dilation", 1), a.get("groups", 1), a.get("bias", True),
                          a.get("padding_mode", "zeros"), device=device)
        elif op == "conv_transpose2d":
            m = nn.ConvTranspose2d(c, a["out_channels"], a["kernel_size"], a.get("stride", 1), a.get("padding", 0),
                                   a.get("output_padding", 0), a.get("groups", 1), a.get("bias", True),
                                   a.get("dilation", 1), device=device)
        elif op == "max_pool2d":
            m = nn.MaxPool2d(a["kernel_size"], a.get("stride"), a.get("padding", 0), a.get("dilation", 1),
                             return_indices=True, ceil_mode=a.get("ceil_mode", False))
        elif op == "avg_pool2d":
            m = nn.AvgPool2d(a["kernel_size"], a.get("stride"), a.get("padding", 0), a.get("ceil_mode", False),
                             a.get("count_include_pad", True))
        elif op == "max_unpool2d":
            m = nn.MaxUnpool2d(a["kernel_size"], a.get("stride"), a.get("padding", 0))
        elif op == "interpolate":
            m = nn.Upsample(a.get("size"), a.get("scale_factor"), a.get("mode", "nearest"), a.get("align_corners"))
        elif op == "batch_norm2d":
            m = nn.BatchNorm2d(c, affine=a.get("affine", True), device=device)
        elif op == "flatten":
            m = nn.Flatten(a.get("start_dim", 1), a.get("end_dim", -1))
        elif op == "linear":
            m = nn.Linear(x.shape[-1], a["out_features"], a.get("bias", True), device=device)
        elif op == "adaptive_avg_pool2d":
            m = nn.AdaptiveAvgPool2d(a["output_size"])
        else:
            m = nn.ReLU() if op == "relu" else nn.Dropout(a.get("p", 0.5))
        m.eval()  # batch norm's training-mode refusal of 1×1 maps is about statistics, not shapes
        if op == "max_pool2d":
            x, indices = m(x)
            pools.append((x, indices))
        elif op == "max_unpool2d":
            _, indices = pools.pop()
            x = m(x, indices, output_size=a.get("output_size"))
        else:
            x = m(x)
        out_shapes.append(tuple(x.shape[1:]))
        counts.append(sum(p.numel() for p in m.parameters()))
    return out_shapes, counts


@pytest.mark.parametrize("preset_id", presets.PRESET_IDS)
def test_every_preset_matches_torch_modules(preset_id):
    preset = presets.get_preset(preset_id)
    stack = layers.walk(preset["input_shape"], preset["layers"])
    shapes, counts = torch_modules(preset["input_shape"], preset["layers"])
    assert [layer.output_shape for layer in stack] == shapes
    assert [layer.params for layer in stack] == counts


@pytest.mark.parametrize(("preset_id", "total"), [
    pytest.param("alexnet-torchvision", 61_100_840, id="alexnet-torchvision"),
    pytest.param("alexnet-original", 60_965_224, id="alexnet-original-2-groups"),
    pytest.param("vgg16", 138_357_544, id="vgg16"),
    pytest.param("resnet18-stem", 64 * 3 * 7 * 7 + 2 * 64, id="resnet18-stem"),
])
def test_published_parameter_totals(preset_id, total):
    preset = presets.get_preset(preset_id)
    assert layers.summarize(preset["input_shape"], preset["layers"])["total_params"] == total


def test_alexnet_torchvision_sizes_and_conv_params():
    preset = presets.get_preset("alexnet-torchvision")
    stack = layers.walk(preset["input_shape"], preset["layers"])
    spatial = [layer for layer in stack if layer.op in ("conv2d", "max_pool2d")]
    assert [layer.output_shape[1] for layer in spatial] == [55, 27, 27, 13, 13, 13, 13, 6]
    assert [layer.params for layer in stack if layer.op == "conv2d"] == [23_296, 307_392, 663_936, 884_992, 590_080]


def test_alexnet_original_227_sizes_and_groups():
    preset = presets.get_preset("alexnet-original")
    stack = layers.walk(preset["input_shape"], preset["layers"])
    spatial = [layer for layer in stack if layer.op in ("conv2d", "max_pool2d")]
    assert [layer.output_shape[1] for layer in spatial] == [55, 27, 27, 13, 13, 13, 13, 6]
    by_name = {layer.name: layer for layer in stack}
    assert by_name["conv1"].formula == "⌊(227 + 2·0 − 1·(11−1) − 1)/4⌋ + 1 = 55"
    assert by_name["conv1"].macs == 55 * 55 * 96 * 3 * 11 * 11  # the famous 105 M
    assert by_name["conv2"].params == 256 * 48 * 5 * 5 + 256  # 2 groups: each filter sees 96 / 2 channels
    assert by_name["conv2"].params_formula == "256·(96/2)·5·5 + 256 = 307,456"
    assert by_name["conv2"].macs == 27 * 27 * 256 * 48 * 5 * 5


@pytest.mark.parametrize(("layer", "params", "macs"), [
    pytest.param({"op": "conv2d", "out_channels": 8, "kernel_size": 3, "groups": 4}, 8 * 2 * 9 + 8,
                 6 * 6 * 8 * 2 * 9, id="grouped-conv"),
    pytest.param({"op": "conv2d", "out_channels": 8, "kernel_size": 3, "groups": 8, "bias": False}, 8 * 9,
                 6 * 6 * 8 * 9, id="depthwise-no-bias"),
    pytest.param({"op": "conv_transpose2d", "out_channels": 4, "kernel_size": 2, "stride": 2, "groups": 2},
                 8 * 2 * 4 + 4, 8 * 8 * 8 * 2 * 4, id="grouped-transpose"),
    pytest.param({"op": "batch_norm2d"}, 16, 8 * 8 * 8, id="batch-norm-2C"),
    pytest.param({"op": "batch_norm2d", "affine": False}, 0, 8 * 8 * 8, id="batch-norm-no-affine"),
    pytest.param({"op": "linear", "out_features": 5}, 8 * 5 + 5, 8 * 8 * 8 * 5, id="linear-on-last-axis"),
])
def test_params_and_macs(layer, params, macs):
    (result,) = layers.walk([8, 8, 8], [layer])
    assert (result.params, result.macs) == (params, macs)


@pytest.mark.parametrize(("stack", "shape", "formula"), [
    pytest.param([{"op": "max_pool2d", "kernel_size": 3, "stride": 2, "ceil_mode": True}], [4, 4, 4],
                 "⌈(8 + 2·0 − 1·(3−1) − 1)/2⌉ + 1 = 4", id="ceil-mode"),
    pytest.param([{"op": "max_pool2d", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}],
                 [4, 5, 5], "⌈(8 + 2·1 − 1·(2−1) − 1)/2⌉ + 1 = 5", id="ceil-mode-keeps-last"),
    pytest.param([{"op": "conv2d", "out_channels": 2, "kernel_size": 4, "padding": "same"}], [2, 8, 8],
                 "⌊(8 + 1 + 2 − 1·(4−1) − 1)/1⌋ + 1 = 8", id="same-padding-odd-extra"),
    pytest.param([{"op": "conv_transpose2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1,
                   "output_padding": 1}], [1, 16, 16], "(8−1)·2 − 2·1 + 1·(3−1) + 1 + 1 = 16", id="transpose"),
    pytest.param([{"op": "max_unpool2d", "kernel_size": 2, "output_size": [17, 17]}], [4, 17, 17],
                 "output_size 17 (the default would be (8−1)·2 − 2·0 + 2 = 16)", id="unpool-output-size"),
    pytest.param([{"op": "interpolate", "scale_factor": 1.5}], [4, 12, 12], "⌊8 × 1.5⌋ = 12", id="interpolate"),
    pytest.param([{"op": "flatten"}], [256], "4·8·8 = 256", id="flatten"),
    pytest.param([{"op": "conv2d", "out_channels": 3, "kernel_size": [3, 1], "stride": [2, 1]}], [3, 3, 8],
                 "H: ⌊(8 + 2·0 − 1·(3−1) − 1)/2⌋ + 1 = 3; W: ⌊(8 + 2·0 − 1·(1−1) − 1)/1⌋ + 1 = 8",
                 id="non-square"),
])
def test_formula_with_the_numbers_filled_in(stack, shape, formula):
    result = layers.walk([4, 8, 8], stack)[-1]
    assert list(result.output_shape) == shape and result.formula == formula


IMPOSSIBLE = [
    pytest.param([{"op": "conv2d", "out_channels": 4, "kernel_size": 3}, {"op": "max_pool2d", "kernel_size": 2},
                  {"op": "max_pool2d", "kernel_size": 3}, {"op": "conv2d", "out_channels": 2, "kernel_size": 3}],
                 "Layer 3 (conv2d): its input is 4×1×1, and the height kernel spans", ["layers", 3, "kernel_size"],
                 id="kernel-past-input"),
    pytest.param([{"op": "max_pool2d", "kernel_size": 2, "padding": 2}], "Layer 0 (max_pool2d)",
                 ["layers", 0, "padding"], id="pool-padding"),
    pytest.param([{"op": "conv2d", "out_channels": 4, "kernel_size": 1, "groups": 2}],
                 "groups (2) must divide the input channels (3)", ["layers", 0, "groups"], id="groups"),
    pytest.param([{"op": "conv_transpose2d", "out_channels": 3, "kernel_size": 2, "stride": 2, "output_padding": 2}],
                 "output_padding (2) must be smaller than stride (2) or dilation (1)", ["layers", 0, "output_padding"],
                 id="output-padding"),
    pytest.param([{"op": "flatten"}, {"op": "conv2d", "out_channels": 1, "kernel_size": 1}],
                 "Layer 1 (conv2d): its input is 300, and conv2d needs a C×H×W input", ["layers", 1],
                 id="conv-after-flatten"),
    pytest.param([{"op": "linear", "in_features": 300, "out_features": 2}], "put a flatten layer before it",
                 ["layers", 0, "in_features"], id="linear-without-flatten"),
    pytest.param([{"op": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 1}],
                 "in_channels is 1, but the layer before gives 3 channels", ["layers", 0, "in_channels"],
                 id="in-channels"),
    pytest.param([{"op": "conv2d", "out_channels": 2, "kernel_size": 1, "strides": 2}], "did you mean 'stride'?",
                 ["layers", 0, "strides"], id="unknown-parameter"),
    pytest.param([{"op": "conv1d", "out_channels": 2}], "stacks are 2-D", ["layers", 0, "op"], id="1d-op"),
    pytest.param([{"op": "relu"}, {"op": "max_unpool2d", "kernel_size": 2, "output_size": [30, 30]}],
                 "Layer 1 (max_unpool2d)", ["layers", 1, "output_size"], id="unpool-output-size"),
    pytest.param([{"op": "conv2d", "kernel_size": 3}], "out_channels is required", ["layers", 0, "out_channels"],
                 id="missing-out-channels"),
    pytest.param([{"op": "interpolate"}], "exactly one of size and scale_factor", ["layers", 0, "scale_factor"],
                 id="interpolate-neither"),
    pytest.param([{"op": "flatten", "start_dim": 0}], "fold the batch axis", ["layers", 0, "start_dim"],
                 id="flatten-batch"),
    pytest.param(["conv2d"], "Layer 0 must be an object", ["layers", 0], id="not-an-object"),
]


@pytest.mark.parametrize(("stack", "fragment", "loc"), IMPOSSIBLE)
def test_impossible_layer_names_its_index(stack, fragment, loc):
    with pytest.raises(InvalidRequest) as info:
        layers.walk([3, 10, 10], stack)
    assert fragment in info.value.message and info.value.message.endswith((".", "?"))
    assert info.value.loc == loc


# ---------------------------------------------------------------- random stacks against torch
_LAYER = st.one_of(
    st.fixed_dictionaries({"op": st.just("conv2d"), "out_channels": st.sampled_from([1, 2, 4]),
                           "kernel_size": st.integers(1, 5), "stride": st.integers(1, 3),
                           "padding": st.integers(0, 3), "dilation": st.integers(1, 2),
                           "groups": st.sampled_from([1, 2])}),
    st.fixed_dictionaries({"op": st.just("conv_transpose2d"), "out_channels": st.sampled_from([2, 4]),
                           "kernel_size": st.integers(1, 4), "stride": st.integers(1, 3),
                           "padding": st.integers(0, 2), "output_padding": st.integers(0, 2)}),
    st.fixed_dictionaries({"op": st.sampled_from(["max_pool2d", "avg_pool2d"]), "kernel_size": st.integers(1, 4),
                           "stride": st.integers(1, 3), "padding": st.integers(0, 2), "ceil_mode": st.booleans()}),
    st.fixed_dictionaries({"op": st.just("interpolate"), "scale_factor": st.sampled_from([0.5, 1.5, 2]),
                           "mode": st.sampled_from(["nearest", "bilinear"])}),
    st.fixed_dictionaries({"op": st.sampled_from(["relu", "batch_norm2d", "dropout"])}),
    st.fixed_dictionaries({"op": st.just("adaptive_avg_pool2d"), "output_size": st.integers(1, 4)}),
)


def _torch_outcome(input_shape: list[int], stack: list[dict[str, Any]]) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shapes, counts = torch_modules(input_shape, stack, torch.device("cpu"))
    except (RuntimeError, ValueError):
        return None
    # Our own rule, said in the sentence: a zero-sized output is refused (torch returns an empty tensor).
    return None if any(0 in s for s in shapes) else (shapes, counts)


@settings(max_examples=80)
@given(c=st.sampled_from([2, 4]), h=st.integers(1, 12), w=st.integers(1, 12),
       stack=st.lists(_LAYER, min_size=1, max_size=4), tail=st.booleans())
def test_random_stacks_agree_with_torch(c, h, w, stack, tail):
    if tail:
        stack = stack + [{"op": "flatten"}, {"op": "linear", "out_features": 3}]
    try:
        walked = layers.walk([c, h, w], stack)
        ours = ([layer.output_shape for layer in walked], [layer.params for layer in walked])
    except InvalidRequest as err:
        assert err.message.startswith("Layer ") and err.loc[:1] == ["layers"], err.message
        ours = None
    assert ours == _torch_outcome([c, h, w], stack)
