"""POST /api/v1/views/receptive-field: /receptive-field's page in one answer.

Its table is what /shapes and /receptive-field answer; each level's field is checked against autograd on real torch
modules built from the network (tests/networks.py): every unit of that level whose value reaches the chosen unit lies
in the field's region, and with positive weights and no pooling of maxima the region clipped to the map is exactly
where the gradient is nonzero (a dilated kernel leaves holes inside it). Each path's field holds the gradient through that input of the merge alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convscope.core import effective
from convscope.core.receptive_view import receptive_view
from tests.networks import TorchNetwork

RESIDUAL = [  # a residual block with a projection shortcut, then a stride-2 conv
    {"op": "conv2d", "name": "stem", "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"op": "conv2d", "name": "a", "out_channels": 3, "kernel_size": 3, "padding": 1, "stride": 2},
    {"op": "conv2d", "name": "b", "out_channels": 3, "kernel_size": 3, "padding": 2, "dilation": 2},
    {"op": "conv2d", "name": "proj", "input": "stem", "out_channels": 3, "kernel_size": 1, "stride": 2},
    {"op": "add", "name": "sum", "inputs": ["b", "proj"]},
    {"op": "avg_pool2d", "name": "pool", "kernel_size": 2},
]
UNET = [  # down, up, and a concat skip
    {"op": "conv2d", "name": "enc", "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"op": "avg_pool2d", "name": "down", "kernel_size": 2},
    {"op": "conv2d", "name": "mid", "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"op": "conv_transpose2d", "name": "up", "out_channels": 2, "kernel_size": 2, "stride": 2},
    {"op": "concat", "name": "skip", "inputs": ["up", "enc"]},
    {"op": "conv2d", "name": "head", "out_channels": 1, "kernel_size": 3, "padding": 1},
]
DENSE = [  # DenseNet-style: each conv reads the concat of all before it
    {"op": "conv2d", "name": "c1", "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"op": "concat", "name": "k1", "inputs": ["input", "c1"]},
    {"op": "conv2d", "name": "c2", "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"op": "concat", "name": "k2", "inputs": ["input", "c1", "c2"]},
    {"op": "conv2d", "name": "c3", "out_channels": 1, "kernel_size": 5, "padding": 2},
]
PLAIN = [dict(layer, padding=1, dilation=1) if layer["name"] == "b" else layer for layer in RESIDUAL]  # no holes
NETWORKS = {"residual": (RESIDUAL, [1, 17, 15]), "plain": (PLAIN, [1, 16, 13]), "unet": (UNET, [1, 12, 12]),
            "dense": (DENSE, [1, 11, 13])}


def _view(client, **body):
    r = client.post("/api/v1/views/receptive-field", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _support(layers, shape, level, unit, cut=None):
    """Where the gradient of the unit (its channels summed: a concat's channels come from different paths) is nonzero on entry `level` (0 = the input), with positive weights; `cut` = (merge,
    input kept): the merge reads its other inputs detached, so only the path through the one kept reaches back."""
    net = TorchNetwork({"input_shape": shape, "layers": layers})
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.rand_like(p) + 0.1)
    names = ["input", *(layer["name"] for layer in layers)]
    values = {"input": torch.rand(1, *shape)}
    leaf = None
    for i, layer in enumerate(layers, start=1):
        if i - 1 == level:
            leaf = values[names[level]].detach().requires_grad_(True)
            values[names[level]] = leaf
        reads = [values[n] for n in net.reads[layer["name"]]]
        if cut is not None and layer["name"] == cut[0]:
            reads = [v if n == cut[1] else v.detach() for n, v in zip(net.reads[layer["name"]], reads)]
        values[layer["name"]] = net._apply(layer, reads)
    if level == 0 and leaf is None:
        leaf = values["input"]
    values[names[unit["layer"]]][0, :, unit["y"], unit["x"]].sum().backward()  # every channel at the unit's place
    return (leaf.grad[0].abs().sum(dim=0) > 0).numpy()


def _inside(support: np.ndarray, box: dict) -> bool:
    ys, xs = np.nonzero(support)
    return bool(ys.size == 0 or (ys.min() >= box["y0"] and ys.max() < box["y1"]
                                 and xs.min() >= box["x0"] and xs.max() < box["x1"]))


def test_the_table_is_what_shapes_and_receptive_field_answer(client) -> None:
    for preset in client.get("/api/v1/presets").json()["presets"]:
        shape = preset.get("input_shape") or [3, *preset["input_size"]]
        view = _view(client, input_shape=shape, layers=preset["layers"])
        body = {"input_shape": shape, "layers": preset["layers"]}
        assert view["shapes"] | {"ok": True} == client.post("/api/v1/shapes", json=body).json(), preset["id"]
        assert view["receptive_field"] | {"ok": True} == client.post("/api/v1/receptive-field", json=body).json()
        top = view["levels"][-1]
        n = view["receptive_field"]["layers"][top]["n"]
        assert view["unit"] == {"layer": top, "y": n[0] // 2, "x": n[1] // 2}, preset["id"]
        if view["fields"] and view["fields"][0]["level"] == 0:  # the field on the input, through the whole network
            whole = client.post("/api/v1/receptive-field", json={**body, "unit": view["unit"]}).json()
            assert {k: view["fields"][0][k] for k in ("region", "clipped")} == {k: whole[k] for k in ("region",
                                                                                                       "clipped")}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(NETWORKS)), data=st.data())
def test_every_levels_field_holds_the_units_gradient(client, name: str, data) -> None:
    layers, shape = NETWORKS[name]
    first = _view(client, input_shape=shape, layers=layers)
    pickable = first["pickable"]
    at = data.draw(st.integers(1, pickable - 1), label="layer")
    n = first["receptive_field"]["layers"][at]["n"]
    unit = {"layer": at, "y": data.draw(st.integers(0, n[0] - 1), label="y"),
            "x": data.draw(st.integers(0, n[1] - 1), label="x")}
    view = _view(client, input_shape=shape, layers=layers, unit=unit)
    assert view["unit"] == unit
    assert at in view["levels"] and {f["level"] for f in view["fields"]} <= set(view["levels"])
    for fld in view["fields"]:
        support = _support(layers, shape, fld["level"], unit)
        assert support.any() and _inside(support, fld["region"]) and _inside(support, fld["clipped"]), (fld, unit)
        if name == "plain":  # undilated convs, an average pool, positive weights: the box is exactly the support
            ys, xs = np.nonzero(support)
            c = fld["clipped"]
            assert (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) == (c["y0"], c["y1"], c["x0"], c["x1"]), fld
    for path in view["paths"]:
        support = _support(layers, shape, 0, unit, cut=(path["merge"], path["via"]))
        assert _inside(support, path["clipped"]), path
    if view["paths"]:  # the field on the input is the envelope of the paths
        box = view["fields"][0]["clipped"]
        assert box == {"y0": min(p["clipped"]["y0"] for p in view["paths"]),
                       "y1": max(p["clipped"]["y1"] for p in view["paths"]),
                       "x0": min(p["clipped"]["x0"] for p in view["paths"]),
                       "x1": max(p["clipped"]["x1"] for p in view["paths"])}


def test_a_unit_on_the_residual_merge_has_a_field_through_each_path(client) -> None:
    view = _view(client, input_shape=[1, 17, 15], layers=RESIDUAL, unit={"layer": 5, "y": 4, "x": 3})
    assert [(p["merge"], p["via"]) for p in view["paths"]] == [("sum", "b"), ("sum", "proj")]
    # b: stem 3 + a 3·1 + b dilated 2·2·2 → r = 3 + 2 + 8 = 13; proj: stem 3, then 1×1 → r = 3
    assert [p["r"] for p in view["paths"]] == [[13, 13], [3, 3]]
    assert view["levels"] == [0, 1, 2, 3, 4, 5, 6] and view["deep"] == 0  # every layer moves n, j, r or start
    assert [f["level"] for f in view["fields"]] == [0, 1, 2, 3, 4]


def test_a_links_unit_that_does_not_fit_falls_back_part_by_part(client) -> None:
    view = _view(client, input_shape=[1, 17, 15], layers=RESIDUAL, unit={"layer": 99, "y": 1})
    top = view["levels"][-1]
    n = view["receptive_field"]["layers"][top]["n"]
    assert view["unit"] == {"layer": top, "y": 1, "x": n[1] // 2}
    far = _view(client, input_shape=[1, 17, 15], layers=RESIDUAL, unit={"layer": 2, "y": -1, "x": 400})
    n2 = far["receptive_field"]["layers"][2]["n"]
    assert far["unit"] == {"layer": 2, "y": n2[0] // 2, "x": n2[1] // 2}


def test_refusals_teach(client) -> None:
    r = client.post("/api/v1/views/receptive-field", json={"input_shape": [1, 8, 8], "layers": RESIDUAL[:1],
                                                           "unit": {"layr": 1}})
    assert r.status_code == 422 and r.json()["error"] == "unit has no parameter 'layr'; did you mean 'layer'?"
    r = client.post("/api/v1/views/receptive-field", json={"input_shape": [1, 8, 8], "layers": [
        {"op": "conv2d", "out_channels": 1, "kernel_size": 3, "strides": 2}]})
    assert r.status_code == 422 and "did you mean 'stride'?" in r.json()["error"]
    r = client.post("/api/v1/views/receptive-field", json={"input_shape": [1, 8, 8], "layers": RESIDUAL[:1],
                                                           "extra": 1})
    assert r.status_code == 422 and r.json()["ok"] is False


def test_the_effective_field_on_the_input_and_why_it_was_not_measured(monkeypatch) -> None:
    body = {"input_shape": [1, 12, 12], "layers": RESIDUAL[:2], "unit": {"layer": 2, "y": 3, "x": 3}, "effective": True}
    measured = receptive_view(body)["fields"][0]
    assert measured["effective"]["nonzero"] > 0 and "effective_error" not in measured
    monkeypatch.setattr(effective, "MAX_MACS", 1)
    refused = receptive_view(body)["fields"][0]
    assert "effective" not in refused and "multiply-accumulates" in refused["effective_error"]
    assert refused["region"] == measured["region"]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_a_unit_on_the_input_draws_no_level_below_it(client, name: str) -> None:
    layers, shape = NETWORKS[name]
    view = _view(client, input_shape=shape, layers=layers, unit={"layer": 0, "y": 0, "x": 0})
    assert view["unit"] == {"layer": 0, "y": 0, "x": 0} and view["fields"] == [] and view["paths"] == []


def test_a_deep_unit_is_drawn_on_the_input_only(client) -> None:
    layers = [{"op": "conv2d", "name": f"c{i}", "out_channels": 1, "kernel_size": 3, "padding": 1} for i in range(14)]
    view = _view(client, input_shape=[1, 9, 9], layers=layers)
    assert view["unit"] == {"layer": 14, "y": 4, "x": 4} and view["deep"] == 14
    assert view["levels"] == [0, 14] and [f["level"] for f in view["fields"]] == [0]
    assert view["fields"][0]["layers"][-1]["r"] == [29, 29]
    shallow = _view(client, input_shape=[1, 9, 9], layers=layers[:12])
    assert shallow["deep"] == 0 and shallow["levels"] == list(range(13))
