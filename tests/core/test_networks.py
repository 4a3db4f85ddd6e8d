"""Networks (named inputs, add / concat) against real torch.nn modules built here: output shapes, params
and MACs equal torch's, and a merged unit's envelope holds every input pixel with a nonzero gradient."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings, strategies as st

from convscope.core.layers import summarize, walk
from convscope.core.receptive import receptive_field

torch.manual_seed(0)


def _conv_macs(m: nn.Conv2d, out: torch.Tensor) -> int:
    return out.shape[2] * out.shape[3] * m.out_channels * (m.in_channels // m.groups) * m.kernel_size[0] * \
        m.kernel_size[1]


def _check_against(net: dict, modules: dict[str, nn.Module], outputs: dict[str, torch.Tensor], shape: list[int]):
    body = summarize(shape, net)
    by_name = {layer["name"]: layer for layer in body["layers"]}
    for name, t in outputs.items():
        assert by_name[name]["output_shape"] == list(t.shape[1:]), name
    for name, m in modules.items():
        assert by_name[name]["params"] == sum(p.numel() for p in m.parameters()), name
        if isinstance(m, nn.Conv2d):
            assert by_name[name]["macs"] == _conv_macs(m, outputs[name]), name
        if isinstance(m, nn.BatchNorm2d):
            assert by_name[name]["macs"] == outputs[name][0].numel(), name
    assert all(by_name[n]["params"] == 0 and by_name[n]["macs"] == 0 for n in by_name if by_name[n]["op"] in
               ("add", "concat"))
    return body


def test_residual_block_with_projection_shortcut():
    conv1, bn1 = nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32)
    conv2, bn2 = nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32)
    proj, bnp = nn.Conv2d(16, 32, 1, 2, bias=False), nn.BatchNorm2d(32)
    x = torch.randn(1, 16, 15, 15)
    o = {"conv1": conv1(x)}
    o["bn1"] = bn1(o["conv1"]); o["relu1"] = torch.relu(o["bn1"]); o["conv2"] = conv2(o["relu1"])
    o["bn2"] = bn2(o["conv2"]); o["proj"] = proj(x); o["bnp"] = bnp(o["proj"])
    o["sum"] = o["bn2"] + o["bnp"]
    net = [{"op": "conv2d", "out_channels": 32, "kernel_size": 3, "stride": 2, "padding": 1, "bias": False},
           {"op": "batch_norm2d"}, {"op": "relu"},
           {"op": "conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1, "bias": False},
           {"op": "batch_norm2d"},
           {"op": "conv2d", "name": "proj", "input": "input", "out_channels": 32, "kernel_size": 1, "stride": 2,
            "bias": False},
           {"op": "batch_norm2d", "name": "bnp"},
           {"op": "add", "name": "sum", "inputs": ["bn2", "bnp"]}, {"op": "relu"}]
    body = _check_against(net, {"conv1": conv1, "bn1": bn1, "conv2": conv2, "bn2": bn2, "proj": proj, "bnp": bnp},
                          o, [16, 15, 15])
    assert [layer["inputs"] for layer in body["layers"]][5:] == [["input"], ["proj"], ["bn2", "bnp"], ["sum"]]
    total = sum(p.numel() for m in (conv1, bn1, conv2, bn2, proj, bnp) for p in m.parameters())
    assert body["total_params"] == total and body["output_shape"] == [32, 8, 8]


def test_small_unet_with_concat_skips():
    e1, e2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1)
    up = nn.ConvTranspose2d(16, 8, 2, stride=2)
    d1, head = nn.Conv2d(16, 8, 3, padding=1), nn.Conv2d(8, 2, 1)
    x = torch.randn(1, 3, 16, 16)
    o = {"e1": torch.relu(e1(x))}
    o["down"] = torch.max_pool2d(o["e1"], 2); o["e2"] = torch.relu(e2(o["down"])); o["up"] = up(o["e2"])
    o["skip"] = torch.cat([o["up"], o["e1"]], 1); o["d1"] = d1(o["skip"]); o["head"] = head(o["d1"])
    net = [{"op": "conv2d", "name": "e1", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"op": "relu"},
           {"op": "max_pool2d", "name": "down", "kernel_size": 2},
           {"op": "conv2d", "name": "e2", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"op": "relu"},
           {"op": "conv_transpose2d", "name": "up", "out_channels": 8, "kernel_size": 2, "stride": 2},
           {"op": "concat", "name": "skip", "inputs": ["up", "relu1"]},
           {"op": "conv2d", "name": "d1", "out_channels": 8, "kernel_size": 3, "padding": 1},
           {"op": "conv2d", "name": "head", "out_channels": 2, "kernel_size": 1}]
    o["e1"] = e1(x)  # shapes only: relu1 holds the same
    body = _check_against(net, {"e1": e1, "e2": e2, "up": up, "d1": d1, "head": head}, o, [3, 16, 16])
    by_name = {layer["name"]: layer for layer in body["layers"]}
    assert by_name["up"]["macs"] == 8 * 8 * 16 * 8 * 2 * 2  # H_in·W_in·C_in·C_out·k·k
    assert by_name["skip"]["formula"] == "8 + 8 = 16 channels"


def test_densenet_style_three_input_concat():
    c1, c2, c3 = nn.Conv2d(4, 6, 3, padding=1), nn.Conv2d(10, 6, 3, padding=1), nn.Conv2d(16, 5, 1)
    x = torch.randn(1, 4, 9, 9)
    o = {"c1": c1(x)}
    o["cat1"] = torch.cat([x, o["c1"]], 1); o["c2"] = c2(o["cat1"])
    o["cat2"] = torch.cat([x, o["c1"], o["c2"]], 1); o["c3"] = c3(o["cat2"])
    net = [{"op": "conv2d", "name": "c1", "out_channels": 6, "kernel_size": 3, "padding": 1},
           {"op": "concat", "inputs": ["input", "c1"]},
           {"op": "conv2d", "name": "c2", "out_channels": 6, "kernel_size": 3, "padding": 1},
           {"op": "concat", "name": "cat2", "inputs": ["input", "c1", "c2"]},
           {"op": "conv2d", "name": "c3", "out_channels": 5, "kernel_size": 1}]
    _check_against(net, {"c1": c1, "c2": c2, "c3": c3}, o, [4, 9, 9])


def _measured(shape, net, unit):
    return receptive_field(shape[1:], net, unit, shape, {"weights": "random", "seed": 1})


def _assert_envelope_holds(shape, net, unit):
    """The autograd bbox (every pixel with a nonzero gradient) lies inside the unit's region."""
    result = _measured(shape, net, unit)
    region, bbox = result["region"], result["effective"]["bbox"]
    assert bbox is not None
    assert region["y0"] <= bbox["y0"] and bbox["y1"] <= region["y1"], (region, bbox)
    assert region["x0"] <= bbox["x0"] and bbox["x1"] <= region["x1"], (region, bbox)
    return result


def test_merge_envelope_holds_the_gradient_of_a_random_unit():
    net = [{"op": "conv2d", "name": "a", "out_channels": 3, "kernel_size": 5, "padding": 2},
           {"op": "conv2d", "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1},
           {"op": "conv2d", "name": "proj", "input": "input", "out_channels": 3, "kernel_size": 1, "stride": 2},
           {"op": "add", "name": "sum", "inputs": ["conv2", "proj"]},
           {"op": "max_pool2d", "kernel_size": 2, "input": "a"},
           {"op": "concat", "name": "cat", "inputs": ["sum", "pool1"]}, {"op": "tanh"}]
    rng = random.Random(7)
    for _ in range(4):
        unit = {"layer": rng.choice(["sum", "cat", "tanh1"]), "y": rng.randrange(8), "x": rng.randrange(8),
                "channel": rng.randrange(3)}
        _assert_envelope_holds([2, 16, 16], net, unit)
    fields = {e["name"]: e for e in _measured([2, 16, 16], net, {"layer": "cat", "y": 3, "x": 3})["layers"]}
    # conv2 sees 7 pixels from start 0.5; proj 1 pixel; pool1 sees 6 from start 1 (5×5 conv, 2×2 pool)
    assert fields["sum"]["r"] == [7, 7] and fields["sum"]["start"] == [0.5, 0.5]
    assert fields["cat"]["r"] == [7, 7] and fields["cat"]["j"] == [2, 2]


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 3, 5]), st.sampled_from([1, 2]), st.booleans()), min_size=1,
                max_size=3), st.integers(0, 3), st.integers(0, 3))
def test_random_residual_graphs_hold_their_gradients(blocks, y, x):
    net, previous = [], "input"
    for b, (k, d, project) in enumerate(blocks):
        net.append({"op": "conv2d", "name": f"b{b}c", "input": previous, "out_channels": 2, "kernel_size": k,
                    "dilation": d, "padding": d * (k - 1) // 2})
        net.append({"op": "leaky_relu", "name": f"b{b}r", "negative_slope": 0.1})
        skip = previous
        if project:
            net.append({"op": "conv2d", "name": f"b{b}p", "input": previous, "out_channels": 2, "kernel_size": 1})
            skip = f"b{b}p"
        elif previous == "input":
            skip = "input"
        net.append({"op": "add", "name": f"b{b}", "inputs": [f"b{b}r", skip]})
        previous = f"b{b}"
    _assert_envelope_holds([2, 12, 12], net, {"layer": previous, "y": y * 3, "x": x * 3})


def test_a_stack_walks_as_before_and_every_layer_reads_the_one_before():
    stack = walk([3, 8, 8], [{"op": "conv2d", "out_channels": 4, "kernel_size": 3}, {"op": "relu"},
                             {"op": "sigmoid"}, {"op": "relu6"}, {"op": "leaky_relu"}])
    assert [layer.inputs for layer in stack] == [("input",), ("conv1",), ("relu1",), ("sigmoid1",), ("relu2",)]
    assert [layer.sources for layer in stack] == [(0,), (1,), (2,), (3,), (4,)]


@pytest.mark.parametrize("op", ["relu6", "leaky_relu", "sigmoid", "tanh"])
def test_activations_keep_shape_and_field(op):
    net = [{"op": "conv2d", "out_channels": 2, "kernel_size": 3}, {"op": op}]
    body = summarize([1, 7, 7], net)
    assert body["layers"][1]["output_shape"] == [2, 5, 5] and body["layers"][1]["params"] == 0
    fields = receptive_field([7, 7], net)["layers"]
    assert {k: fields[2][k] for k in "njr"} == {k: fields[1][k] for k in "njr"}
    _assert_envelope_holds([1, 7, 7], net, {"layer": 2, "y": 1, "x": 2})
