"""Networks over HTTP: every illegal graph is a 422 in the one envelope with its sentence, and
GET /api/v1/layers publishes exactly what validation accepts."""
from __future__ import annotations

import pytest

from convscope.core.layers import LAYER_KEYS, LAYER_TABLE

_RELU = {"op": "relu"}
_POOL = {"op": "max_pool2d", "kernel_size": 2}


def _refused(client, layers, loc, *fragments, path="/api/v1/shapes", shape=(3, 8, 8)):
    body = {"input_shape": list(shape), "layers": layers}
    if path != "/api/v1/shapes":
        body["input_size"] = list(shape[1:])
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    data = r.json()
    assert data["ok"] is False and data["status"] == 422
    assert data["errors"][0]["loc"] == loc, data
    for fragment in fragments:
        assert fragment in data["error"], (fragment, data["error"])
    return data["error"]


@pytest.mark.parametrize("path", ["/api/v1/shapes", "/api/v1/receptive-field"])
def test_an_unknown_name_suggests_the_closest(client, path):
    _refused(client, [{"op": "relu", "name": "skip"}, {"op": "relu", "input": "skp"}], ["layers", 1, "input"],
             "Layer 1 (relu) reads 'skp'", "Did you mean 'skip'?", path=path)


def test_a_name_read_before_it_is_defined_names_both_layers(client):
    _refused(client, [{"op": "add", "inputs": ["input", "late"]}, {"op": "relu", "name": "late"}],
             ["layers", 0, "inputs"], "Layer 0 (add) reads 'late'", "layer 1 (relu)", "defined after it")


def test_duplicate_names_are_refused(client):
    _refused(client, [{"op": "relu", "name": "a"}, {"op": "relu", "name": "a"}], ["layers", 1, "name"],
             "Layer 1 (relu) is named 'a'", "layer 0 already has that name")
    _refused(client, [{"op": "relu", "name": "input"}], ["layers", 0, "name"], "the network's input")


def test_add_of_unequal_shapes_names_both_layers_and_shapes(client):
    _refused(client, [_POOL, {"op": "add", "inputs": ["input", "pool1"]}], ["layers", 1, "inputs"],
             "'input' is 3×8×8 but 'pool1' is 3×4×4", "add needs equal shapes")


def test_concat_of_unequal_heights_names_both(client):
    _refused(client, [_POOL, {"op": "concat", "inputs": ["input", "pool1"]}], ["layers", 1, "inputs"],
             "'input' is 3×8×8 but 'pool1' is 3×4×4", "H and W")


def test_a_merge_needs_two_inputs(client):
    _refused(client, [{"op": "add", "inputs": ["input"]}], ["layers", 0, "inputs"], "two or more")
    _refused(client, [{"op": "concat"}], ["layers", 0, "inputs"], "two or more")
    _refused(client, [{"op": "add", "inputs": ["input", "input"], "input": "input"}], ["layers", 0, "input"],
             "has no parameter 'input'", "did you mean 'inputs'?")


def test_inputs_with_different_jumps_explain_with_numbers(client):
    layers = [{"op": "conv2d", "out_channels": 3, "kernel_size": 2, "stride": 2},
              {"op": "interpolate", "size": 8, "mode": "bilinear", "align_corners": True},
              {"op": "add", "inputs": ["input", "upsample1"]}]
    assert client.post("/api/v1/shapes", json={"input_shape": [3, 8, 8], "layers": layers}).status_code == 200
    text = _refused(client, layers, ["layers", 2, "inputs"], "'input' has n = 8", "1 input pixels apart", "'upsample1' has n = 8, j = 0.857",
                    path="/api/v1/receptive-field")
    assert "line up" in text


def test_a_network_posts_to_the_receptive_field_with_effective(client):
    layers = [{"op": "conv2d", "name": "a", "out_channels": 2, "kernel_size": 3, "padding": 1},
              {"op": "conv2d", "out_channels": 2, "kernel_size": 3, "padding": 1},
              {"op": "add", "name": "sum", "inputs": ["a", "conv2"]}, {"op": "sigmoid"}]
    r = client.post("/api/v1/receptive-field", json={"input_shape": [2, 9, 9], "layers": layers,
                                                     "unit": {"layer": "sum", "y": 4, "x": 4}, "effective": {}})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["layers"][3]["r"] == [5, 5] and data["region"] == {"y0": 2, "y1": 7, "x0": 2, "x1": 7}
    assert data["effective"]["bbox"] == {"y0": 2, "y1": 7, "x0": 2, "x1": 7}
    shapes = client.post("/api/v1/shapes", json={"input_shape": [2, 9, 9], "layers": layers}).json()
    assert [layer["inputs"] for layer in shapes["layers"]] == [["input"], ["a"], ["a", "conv2"], ["sum"]]


def test_layers_lists_every_kind_with_its_parameters(client):
    r = client.get("/api/v1/layers")
    assert r.status_code == 200
    kinds = r.json()["layers"]
    assert [k["op"] for k in kinds] == list(LAYER_TABLE)
    for kind in kinds:
        assert kind["meaning"] and "\n" not in kind["meaning"]
        names = {p["name"] for p in kind["params"]}
        assert names | {"op"} == LAYER_KEYS[kind["op"]], kind["op"]
        for p in kind["params"]:
            assert set(p) >= {"name", "type", "default", "meaning"}
            if "choices" in p:
                assert p["default"] in p["choices"]


def _layer_for(op: str) -> dict:
    if op in ("add", "concat"):
        return {"op": op, "inputs": ["input", "input"]}
    required = {"conv2d": {"out_channels": 2, "kernel_size": 1}, "conv_transpose2d": {"out_channels": 2,
                "kernel_size": 1}, "max_pool2d": {"kernel_size": 1}, "avg_pool2d": {"kernel_size": 1},
                "max_unpool2d": {"kernel_size": 1}, "interpolate": {"scale_factor": 2},
                "linear": {"out_features": 2}, "adaptive_avg_pool2d": {"output_size": 2}}
    return {"op": op, **required.get(op, {})}


@pytest.mark.parametrize("op", list(LAYER_TABLE))
def test_every_published_parameter_is_accepted_and_every_other_key_refused(client, op):
    kind = next(k for k in client.get("/api/v1/layers").json()["layers"] if k["op"] == op)
    base = _layer_for(op)
    for p in kind["params"]:
        layer = dict(base)
        if p["name"] == "input":
            layer["input"] = "input"
        elif p["name"] == "name":
            layer["name"] = "x"
        elif p["name"] not in layer and p["default"] is not None:
            layer[p["name"]] = p["default"]
        r = client.post("/api/v1/shapes", json={"input_shape": [2, 4, 4], "layers": [layer]})
        assert r.status_code == 200, (op, p["name"], r.text)
    for key in ("kernel", "output", "weights", "inplce", "bogus"):
        if key in LAYER_KEYS[op]:
            continue
        r = client.post("/api/v1/shapes", json={"input_shape": [2, 4, 4], "layers": [base | {key: 1}]})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["layers", 0, key], (op, key, r.text)
        assert f"has no parameter {key!r}" in r.json()["error"]


def test_a_misspelt_key_reaches_http_as_cores_sentence(client):
    r = client.post("/api/v1/shapes", json={"input_shape": [3, 8, 8],
                                            "layers": [{"op": "leaky_relu", "negative_slop": 0.2}]})
    assert r.status_code == 422
    assert r.json()["error"] == "Layer 0 (leaky_relu) has no parameter 'negative_slop'; did you mean 'negative_slope'?"
    r = client.post("/api/v1/shapes", json={"input_shape": [3, 8, 8], "layers": [{"op": "leaky_rel"}]})
    assert r.status_code == 422 and "Did you mean 'leaky_relu'?" in r.json()["error"]
