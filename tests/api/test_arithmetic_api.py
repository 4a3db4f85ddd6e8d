"""The arithmetic API over HTTP: /shapes, /receptive-field, /presets and /exercises — success envelopes,
the published numbers, presets posted unchanged, and every refusal in the one error envelope."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from convscope.core.layers import LAYER_KEYS

LECTURE = {"input_size": [5, 5], "layers": [
    {"op": "conv2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1},
    {"op": "conv2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1}]}


def _raw(body: bytes) -> dict:
    return {"content": body, "headers": {"content-type": "application/json"}}


def assert_envelope(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"ok", "status", "error", "errors"} and body["ok"] is False and body["status"] == status
    assert fragment in body["error"], body["error"]
    assert body["error"].rstrip().endswith((".", "?", ")")), body["error"]
    assert body["errors"] and all(set(e) == {"loc", "msg"} for e in body["errors"])


def test_shapes_of_alexnet_torchvision(client):
    preset = client.get("/api/v1/presets/alexnet-torchvision").json()["preset"]
    data = client.post("/api/v1/shapes", json={"input_shape": preset["input_shape"], "layers": preset["layers"]}).json()
    assert data["ok"] is True and data["output_shape"] == [1000] and data["total_params"] == 61_100_840
    convs = [layer for layer in data["layers"] if layer["op"] == "conv2d"]
    assert [layer["params"] for layer in convs] == [23_296, 307_392, 663_936, 884_992, 590_080]
    assert convs[0] == {"name": "conv1", "op": "conv2d", "inputs": ["input"],
                        "input_shape": [3, 224, 224], "output_shape": [64, 55, 55],
                        "params": 23_296, "macs": 55 * 55 * 64 * 3 * 11 * 11,
                        "formula": "⌊(224 + 2·2 − 1·(11−1) − 1)/4⌋ + 1 = 55",
                        "params_formula": "64·3·11·11 + 64 = 23,296"}


def test_shapes_counts_groups(client):
    body = {"input_shape": [96, 27, 27], "layers": [{"op": "conv2d", "out_channels": 256, "kernel_size": 5,
                                                     "padding": 2, "groups": 2}]}
    (layer,) = client.post("/api/v1/shapes", json=body).json()["layers"]
    assert layer["params"] == 256 * 48 * 25 + 256 and layer["macs"] == 27 * 27 * 256 * 48 * 25


def test_presets_list_and_one(client):
    listed = client.get("/api/v1/presets").json()
    ids = [p["id"] for p in listed["presets"]]
    assert listed["ok"] is True and ids == ["alexnet-original", "alexnet-torchvision", "vgg16", "resnet18-stem",
                                            "dilated-1-2-4", "lecture-two-convs", "encoder-decoder"]
    for preset in listed["presets"]:
        assert set(preset) == {"id", "title", "description", "source", "input_shape", "input_size", "layers"}
        assert client.get(f"/api/v1/presets/{preset['id']}").json() == {"ok": True, "preset": preset}


@pytest.mark.parametrize("preset_id", ["alexnet-original", "alexnet-torchvision", "vgg16", "resnet18-stem",
                                       "dilated-1-2-4", "lecture-two-convs", "encoder-decoder"])
def test_a_preset_works_unchanged_as_a_body(client, preset_id):
    preset = client.get(f"/api/v1/presets/{preset_id}").json()["preset"]
    shapes = client.post("/api/v1/shapes", json=preset)
    rf = client.post("/api/v1/receptive-field", json=preset)
    assert shapes.status_code == rf.status_code == 200, (shapes.text[:300], rf.text[:300])
    assert len(shapes.json()["layers"]) + 1 == len(rf.json()["layers"])


def test_receptive_field_of_the_lecture_with_a_unit_and_its_effective_field(client):
    body = LECTURE | {"unit": {"layer": 2, "y": 0, "x": 1}, "effective": {"weights": "constant"}}
    data = client.post("/api/v1/receptive-field", json=body).json()
    assert [(e["name"], e["n"], e["j"], e["r"], e["start"]) for e in data["layers"]] == [
        ("input", [5, 5], [1, 1], [1, 1], [0.5, 0.5]), ("conv1", [3, 3], [2, 2], [3, 3], [0.5, 0.5]),
        ("conv2", [2, 2], [4, 4], [7, 7], [0.5, 0.5])]
    assert data["region"] == {"y0": -3, "y1": 4, "x0": 1, "x1": 8}
    assert data["clipped"] == {"y0": 0, "y1": 4, "x0": 1, "x1": 5}
    effective = data["effective"]
    assert effective["bbox"] == data["clipped"]  # no gaps: the clipped region is exactly what the unit reads
    heat = effective["heatmap"]
    assert (heat["width"], heat["height"], heat["encoding"]) == (5, 5, "list")
    assert np.count_nonzero(heat["data"]) == effective["nonzero"] == 4 * 4
    assert data["wrapped"] == {"y": [], "x": []}  # zeros padding copies no pixel


def test_a_circular_conv_wraps_the_unit_region_to_the_far_edge(client):
    body = {"input_size": [6, 6], "layers": [{"op": "conv2d", "out_channels": 1, "kernel_size": 3, "padding": 1,
                                              "padding_mode": "circular"}],
            "unit": {"layer": 1, "y": 0, "x": 5}, "effective": {"weights": "constant"}}
    data = client.post("/api/v1/receptive-field", json=body).json()
    assert data["clipped"] == {"y0": 0, "y1": 2, "x0": 4, "x1": 6}
    assert data["wrapped"] == {"y": [[5, 6]], "x": [[0, 1]]}  # row −1 is row 5, column 6 is column 0
    heat = np.array(data["effective"]["heatmap"]["data"])
    assert np.flatnonzero(heat.any(axis=1)).tolist() == [0, 1, 5]
    assert np.flatnonzero(heat.any(axis=0)).tolist() == [0, 4, 5]


ERRORS = [
    pytest.param("/api/v1/shapes", {"input_shape": [3, 10, 10], "layers": [
        {"op": "conv2d", "out_channels": 4, "kernel_size": 3}, {"op": "max_pool2d", "kernel_size": 2},
        {"op": "max_pool2d", "kernel_size": 5}]}, 422, "Layer 2 (max_pool2d): its input is 4×4×4", id="impossible"),
    pytest.param("/api/v1/shapes", {"input_shape": [3, 10, 10], "layers": [{"op": "conv3d"}]}, 422,
                 "Layer 0 has op 'conv3d'", id="unknown-op"),
    pytest.param("/api/v1/shapes", {"input_shape": [3, 10], "layers": []}, 422, "three integers from 1 to 1,000,000",
                 id="input-shape"),
    pytest.param("/api/v1/shapes", {"input_shape": [3, 10, 10], "input_size": [9, 9], "layers": []}, 422,
                 "disagrees", id="input-size-disagrees"),
    pytest.param("/api/v1/shapes", {"input_shape": [3, 10, 10], "layers": [], "kernel": 3}, 422,
                 "kernel is not a parameter", id="unknown-field"),
    pytest.param("/api/v1/receptive-field", {"layers": []}, 422, "input_size is required", id="rf-no-size"),
    pytest.param("/api/v1/receptive-field", LECTURE | {"unit": {"layer": 2, "y": 2, "x": 0}}, 422,
                 "unit.y must be an integer from 0 to 1", id="rf-unit"),
    pytest.param("/api/v1/receptive-field", LECTURE | {"effective": {"weights": "constant"}}, 422,
                 "effective needs a unit", id="rf-effective-without-unit"),
    pytest.param("/api/v1/receptive-field", {"input_size": [5, 5], "layers": [
        {"op": "conv2d", "out_channels": 1, "kernel_size": 7}]}, 422, "Layer 0 (conv2d)", id="rf-impossible"),
    pytest.param("/api/v1/exercises", {"kind": "shapes"}, 422, "no exercise kind 'shapes'", id="exercise-kind"),
    pytest.param("/api/v1/exercises", {"kind": "param_count", "difficulty": 0}, 422, "difficulty must be 1, 2 or 3",
                 id="exercise-difficulty"),
    pytest.param("/api/v1/exercises", {"kind": "param_count", "seed": "x"}, 422, "seed must be an integer",
                 id="exercise-seed"),
    pytest.param("/api/v1/exercises/grade", {"kind": "param_count", "answer": 1, "reveal": "yes"}, 422,
                 "reveal must be true or false", id="grade-reveal"),
]


@pytest.mark.parametrize(("path", "body", "status", "fragment"), ERRORS)
def test_refusals_in_the_envelope(client, path, body, status, fragment):
    assert_envelope(client.post(path, json=body), status, fragment)


def test_unknown_preset_is_a_404_that_suggests(client):
    assert_envelope(client.get("/api/v1/presets/vgg"), 404, "Did you mean 'vgg16'?")


def test_non_json_body_is_415(client):
    r = client.post("/api/v1/shapes", content=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert_envelope(r, 415, "reads JSON")


def test_exercise_round_trip(client):
    kinds = client.get("/api/v1/exercises/kinds").json()
    assert kinds["ok"] is True and len(kinds["kinds"]) == 11 and kinds["grading"]["tolerance"] == 1e-6
    ex = client.post("/api/v1/exercises", json={"kind": "conv_output_values", "seed": 11, "difficulty": 2}).json()
    assert ex["ok"] is True and ex["given"]["op"] == "conv2d" and "cross-correlation" in ex["prompt"]
    body = {k: ex[k] for k in ("kind", "seed", "difficulty")}
    ops = client.post("/api/v1/ops/conv2d", json={k: v for k, v in ex["given"].items() if k != "op"}).json()
    graded = client.post("/api/v1/exercises/grade", json=body | {"answer": ops["output"], "reveal": True}).json()
    assert graded["ok"] is True and graded["correct"] is True and graded["score"] == 1.0
    assert graded["expected"] == ops["output"]
    wrong = client.post("/api/v1/exercises/grade", json=body | {"answer": 0}).json()
    assert wrong["correct"] is False and "expected" not in wrong


@pytest.mark.parametrize("raw", [
    pytest.param(b'[[[[NaN, 1]]]]', id="nan"), pytest.param(b'"twelve"', id="string"),
    pytest.param(b'[[[[1, 2], [3]]]]', id="ragged"), pytest.param(b'[[[["1"]]]]', id="string-element"),
    pytest.param(b'{"grad_input": 1}', id="object"), pytest.param(b'1e999', id="overflow"),
])
def test_malformed_answers_are_graded_zero_never_an_error(client, raw):
    body = b'{"kind": "conv_output_values", "seed": 2, "difficulty": 1, "answer": ' + raw + b"}"
    r = client.post("/api/v1/exercises/grade", **_raw(body))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["ok"] is True and data["correct"] is False and data["score"] == 0 and data["feedback"]


def test_given_data_works_as_the_body_of_the_matching_endpoint(client):
    """A receptive_field exercise's given is a /receptive-field body; a param_count's is a /shapes body."""
    ex = client.post("/api/v1/exercises", json={"kind": "receptive_field", "seed": 3, "difficulty": 3}).json()
    last = client.post("/api/v1/receptive-field", json=ex["given"]).json()["layers"][-1]
    answer = {"r": last["r"][0], "j": last["j"][0], "start": last["start"][0]}
    graded = client.post("/api/v1/exercises/grade", json={"kind": "receptive_field", "seed": 3, "difficulty": 3,
                                                          "answer": answer}).json()
    assert graded["correct"] is True
    ex = client.post("/api/v1/exercises", json={"kind": "param_count", "seed": 3, "difficulty": 3}).json()
    total = client.post("/api/v1/shapes", json=ex["given"]).json()["total_params"]
    graded = client.post("/api/v1/exercises/grade", json={"kind": "param_count", "seed": 3, "difficulty": 3,
                                                          "answer": total}).json()
    assert graded["correct"] is True


def test_openapi_documents_the_arithmetic_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/shapes", "/api/v1/receptive-field", "/api/v1/presets", "/api/v1/presets/{preset_id}",
                 "/api/v1/exercises", "/api/v1/exercises/grade", "/api/v1/exercises/kinds"):
        assert path in paths, path
    assert client.get("/docs").status_code == 200
    json.dumps(paths)  # the spec serialises


_JUNK = [None, True, 0, 1, 2, 3, -1, 2.5, "same", "x", [], [1], [2, 3], [None, 2], {}, [1, 2, 3], "bilinear", 10**30,
         [[1]], -(10**30)]


def _junk_stack(rng: random.Random) -> list:
    stack = []
    for _ in range(rng.randint(0, 4)):
        op = rng.choice([*LAYER_KEYS, "conv1d", None, 3, ["conv2d"]])
        layer = {"op": op}
        keys = sorted(LAYER_KEYS.get(op, {"kernel_size"}) - {"op"}) if isinstance(op, str) else ["kernel_size"]
        for key in rng.sample(keys, min(len(keys), rng.randint(0, 4))):
            layer[key] = rng.choice(_JUNK)
        if op in ("conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d") and rng.random() < 0.7:
            layer |= {"out_channels": rng.choice([1, 2]), "kernel_size": rng.choice([1, 2, 3])}
            layer.pop("out_channels") if "pool" in op else None
        stack.append(layer if rng.random() > 0.05 else rng.choice(_JUNK))
    return stack


def test_junk_is_refused_in_the_envelope_never_a_5xx(client):
    rng = random.Random(20240501)
    for _ in range(250):
        stack, shape = _junk_stack(rng), rng.choice([[3, 8, 8], [1, 5, 7], [2, 3, 3], [3, 8], "x", [0, 3, 3]])
        body = {"input_size": shape[1:] if isinstance(shape, list) else shape, "layers": stack}
        if rng.random() < 0.5:
            body["unit"] = {"layer": rng.randint(0, len(stack)), "y": rng.randint(0, 3), "x": rng.randint(0, 3)}
            body["effective"] = rng.choice([{}, {"weights": "random", "seed": 3}, {"channels": 1}, {"seed": -1}, []])
        answer = rng.choice(_JUNK + [[[[[1]]]], {"r": None}, [1, 2, 3, 4]])
        for path, payload in (("/api/v1/shapes", {"input_shape": shape, "layers": stack}),
                              ("/api/v1/receptive-field", body),
                              ("/api/v1/exercises/grade", {"kind": rng.choice(["param_count", "receptive_field",
                                                                               "conv_backward_values"]),
                                                           "seed": rng.randint(0, 9), "answer": answer})):
            r = client.post(path, json=payload)
            assert r.status_code in (200, 413, 422), (path, payload, r.text[:300])
            if r.status_code != 200:
                assert_envelope(r, r.status_code, "")
