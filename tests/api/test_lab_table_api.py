"""The image lab's published table (GET /api/v1/layers' `lab` and `lab_new`, GET /api/v1/pipeline/presets)
against what POST /api/v1/pipeline accepts: every published parameter taken with its published default, every
unknown key refused with the registry's "did you mean" sentence, every preset and every new layer valid."""
from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import pytest

from convscope.core.lab_table import LAB_PARAMS
from convscope.core.layers import LAYER_KEYS

WIRING = {"name", "input", "inputs"}
IMAGE = {"sample": "gradient"}


def _kinds(client: Any) -> dict[str, dict[str, Any]]:
    r = client.get("/api/v1/layers")
    assert r.status_code == 200
    return {k["op"]: k for k in r.json()["layers"]}


def _lab_params(kind: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameters as the lab takes them: the registry's, each replaced by the lab's of the same name, and
    the lab's own."""
    lab = {p["name"]: p for p in kind["lab"]}
    merged = [lab.pop(p["name"], p) for p in kind["params"]]
    return [*lab.values(), *merged]


def _network(kind: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    """The kind's new layer (lab_new) where it can run: an unpool after a pool, a merge of two branches."""
    layer = {**kind["lab_new"], **extra}
    if kind["op"] == "max_unpool2d":
        return [{"op": "max_pool2d"}, layer]
    if kind["merge"]:
        return [{"op": "relu", "name": "a"}, {"op": "tanh", "name": "b", "input": "input"},
                {**layer, "inputs": ["a", "b"]}]
    return [layer]


def _post(client: Any, layers: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/pipeline", json={"image": IMAGE, "image_max_side": 32, "max_side": 16,
                                                 "layers": layers})


def test_every_kind_is_published_with_its_lab_table_and_a_new_layer(client):
    kinds = _kinds(client)
    assert set(kinds) == set(LAYER_KEYS)
    for op, kind in kinds.items():
        assert kind["lab_new"]["op"] == op
        names = {p["name"] for p in _lab_params(kind)}
        # what validation takes is exactly what is published
        assert LAYER_KEYS[op] | LAB_PARAMS.get(op, frozenset()) == names | {"op"}, op
        for p in kind["lab"]:
            assert {"name", "type", "default", "meaning"} <= set(p) and p["meaning"], (op, p)
    conv = {p["name"]: p for p in kinds["conv2d"]["lab"]}
    assert conv["kernel"]["default"] == "identity" and conv["mode"]["choices"] == ["per_channel", "shared"]
    assert {p["name"]: p["default"] for p in kinds["max_pool2d"]["lab"]} == {"kernel_size": 2}


@pytest.mark.parametrize("op", sorted(LAYER_KEYS))
def test_each_published_default_is_accepted_and_a_new_layer_runs(client, op):
    kind = _kinds(client)[op]
    r = _post(client, _network(kind))
    assert r.status_code == 200, r.text
    tried = 0
    for p in _lab_params(kind):
        if p["name"] in WIRING or p["default"] is None:
            continue  # null: required (lab_new gives it) or inferred
        r = _post(client, _network(kind, **{p["name"]: p["default"]}))
        assert r.status_code == 200, (op, p["name"], r.text)
        if "choices" in p:
            assert p["default"] in p["choices"], (op, p)
        tried += 1
    assert tried == len([p for p in _lab_params(kind) if p["default"] is not None and p["name"] not in WIRING])


@pytest.mark.parametrize("op", sorted(LAYER_KEYS))
def test_an_unknown_key_is_refused_with_a_suggestion(client, op):
    kind = _kinds(client)[op]
    own = [p["name"] for p in _lab_params(kind) if p["name"] not in WIRING] or ["name"]
    typo = own[0] + "x"
    layers = _network(kind)
    layers[-1] = {**layers[-1], typo: 1}
    r = _post(client, layers)
    assert r.status_code == 422, r.text
    i = len(layers) - 1
    # the lab's sentence for its own kinds, the registry's for merges (which the lab passes on unchanged)
    assert r.json()["error"] in (f"Layer {i} ({op}): {typo!r} is not a parameter of {op}; did you mean {own[0]!r}?",
                                 f"Layer {i} ({op}) has no parameter {typo!r}; did you mean {own[0]!r}?")


def test_the_lab_refuses_a_bias_it_would_not_use(client):
    r = _post(client, [{"op": "conv2d", "kernel": "box", "bias": True}])
    assert r.status_code == 422
    assert r.json()["error"].startswith("Layer 0 (conv2d): bias must be false here, not True: a lab convolution")


def test_every_lab_preset_passes_the_pipeline_on_a_photo(client):
    r = client.get("/api/v1/pipeline/presets")
    assert r.status_code == 200
    presets = r.json()["presets"]
    assert len(presets) >= 10 and len({p["title"] for p in presets}) == len(presets)
    assert presets[0]["title"] == "edges: Sobel x, relu, max pool 2"  # the lab opens with it
    assert any(layer["op"] == "add" for p in presets for layer in p["layers"])
    for p in presets:
        r = client.post("/api/v1/pipeline", json={"image": {"sample": "chelsea"}, "image_max_side": 64,
                                                  "max_side": 16, "layers": p["layers"]})
        assert r.status_code == 200, (p["title"], r.text)
        assert len(r.json()["layers"]) == len(p["layers"])


def test_a_lab_linear_layer_has_its_documented_seeded_weights(client):
    layers = [{"op": "flatten"}, {"op": "linear", "out_features": 5, "seed": 7}]
    r = client.post("/api/v1/pipeline", json={"image": IMAGE, "image_max_side": 16, "max_side": 1024,
                                              "encoding": "f32", "layers": layers})
    assert r.status_code == 200, r.text
    body = r.json()
    x = np.frombuffer(base64.b64decode(body["layers"][0]["maps"][0]["data"]), np.float32).astype(np.float64)
    y = np.frombuffer(base64.b64decode(body["layers"][1]["maps"][0]["data"]), np.float32).astype(np.float64)
    w = (np.random.default_rng(7).standard_normal((5, x.size)) / math.sqrt(x.size)).astype(np.float32)
    expect = [sum(float(w[o, k]) * x[k] for k in range(x.size)) for o in range(5)]
    assert np.allclose(y, expect, rtol=1e-4, atol=1e-5)
