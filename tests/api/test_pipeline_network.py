"""The streamed pipeline's start frame names the network it runs in the registry's form (lab layers translated,
a model's layers as given): posted unchanged to /shapes and /receptive-field, it describes the very maps sent."""
from __future__ import annotations

from fastapi.testclient import TestClient

from convscope.app import create_app
from tests.frames import read_frames


def _start_and_blocks(client: TestClient, body: dict) -> tuple[dict, list[dict]]:
    r = client.post("/api/v1/pipeline", json={**body, "transport": "stream", "max_side": 8})
    assert r.status_code == 200, r.text
    frames = [h for h, _ in read_frames([r.content])]
    return frames[0], [h for h in frames if h["event"] == "maps"]


def test_lab_layers_come_back_as_the_body_of_shapes() -> None:
    client = TestClient(create_app())
    layers = [{"op": "conv2d", "kernel": "random", "seed": 1, "out_channels": 4, "padding": 1},
              {"op": "relu"}, {"op": "max_pool2d"}]
    start, blocks = _start_and_blocks(client, {"image": {"sample": "chelsea"}, "image_max_side": 32,
                                               "layers": layers})
    network = start["network"]
    assert network["input_shape"] == blocks[0]["shape"]
    assert "kernel" not in network["layers"][0] and network["layers"][0]["kernel_size"] == [3, 3]
    shapes = client.post("/api/v1/shapes", json=network).json()
    rf = client.post("/api/v1/receptive-field", json=network).json()
    assert [s["output_shape"] for s in shapes["layers"]] == [b["shape"] for b in blocks[1:]]
    assert shapes["total_params"] == 4 * 3 * 3 * 3
    assert [{k: e[k] for k in ("n", "j", "r", "start")} for e in rf["layers"]] == \
        [{k: b["field"][k] for k in ("n", "j", "r", "start")} for b in blocks]


def test_a_catalogue_model_comes_back_as_its_catalogue_network() -> None:
    client = TestClient(create_app())
    start, blocks = _start_and_blocks(client, {"image": {"sample": "chelsea"}, "model": {"id": "resnet18"}})
    catalogue = client.get("/api/v1/models/resnet18").json()["network"]
    assert start["network"]["layers"] == catalogue["layers"]
    assert start["network"]["input_shape"] == catalogue["input_shape"] == blocks[0]["shape"]
    assert client.post("/api/v1/shapes", json=start["network"]).json()["total_params"] == 11_689_512
    assert [b["name"] for b in blocks[1:]] == [layer["name"] for layer in catalogue["layers"]]
