"""The model catalogue and uploaded ONNX models through HTTP."""
from __future__ import annotations

import io
import pickle
import warnings

import pytest
import torch
from torch import nn

from tests.core.test_catalogue import PUBLISHED_PARAMS


def _onnx(model: nn.Module, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), torch.randn(1, *shape), buffer, dynamo=False)
    return buffer.getvalue()


class _Student(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 16 * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv1(x))
        y = torch.relu(self.conv2(y) + y)
        return self.fc(torch.flatten(self.pool(y), 1))


def _upload(client, data: bytes, name: str = "model.onnx"):
    return client.post("/api/v1/models", files={"file": (name, data, "application/octet-stream")})


def test_catalogue_lists_every_model_with_torchvisions_parameter_counts(client) -> None:
    body = client.get("/api/v1/models").json()
    by_id = {m["id"]: m for m in body["models"]}
    assert {"alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "unet", "fcn"} <= set(by_id)
    for model_id, params in PUBLISHED_PARAMS.items():
        assert by_id[model_id]["params"] == params
        assert by_id[model_id]["input_shape"] == [3, 224, 224]


@pytest.mark.parametrize("model_id", ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "unet", "fcn"])
def test_a_models_network_posts_unchanged_to_shapes_and_receptive_field(client, model_id: str) -> None:
    network = client.get(f"/api/v1/models/{model_id}").json()["network"]
    shapes = client.post("/api/v1/shapes", json=network)
    assert shapes.status_code == 200, shapes.text
    field = client.post("/api/v1/receptive-field", json=network)
    assert field.status_code == 200, field.text
    if model_id in PUBLISHED_PARAMS:
        assert shapes.json()["output_shape"] == [1000]


def test_vgg16_pool5_field_is_the_published_one(client) -> None:
    network = client.get("/api/v1/models/vgg16").json()["network"]
    layers = client.post("/api/v1/receptive-field", json=network).json()["layers"]
    pool5 = next(entry for entry in layers if entry["name"] == "features.30")
    assert pool5["r"] == [212, 212] and pool5["j"] == [32, 32] and pool5["n"] == [7, 7]


def test_an_uploaded_onnx_model_is_translated_and_kept(client) -> None:
    model = _Student()
    reply = _upload(client, _onnx(model, (3, 32, 32)))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["input_shape"] == [3, 32, 32] and len(body["id"]) == 64
    assert body["params"] == sum(p.numel() for p in model.parameters())
    names = [layer["name"] for layer in body["network"]["layers"]]
    assert names[0] == "conv1" and "add" in names and names[-1] == "fc"
    again = client.get(f"/api/v1/models/{body['id']}").json()
    assert again["network"] == body["network"]
    shapes = client.post("/api/v1/shapes", json=body["network"]).json()
    assert shapes["output_shape"] == [10]


@pytest.mark.parametrize(("data", "status", "words"), [
    pytest.param(pickle.dumps({"weights": [1, 2]}), 415, "never opens", id="pickle"),
    pytest.param(b"not a model at all", 415, "cannot be read as an ONNX model", id="text"),
    pytest.param(b"", 415, "ONNX", id="empty"),
])
def test_hostile_uploads_are_refused_and_the_server_keeps_serving(client, data: bytes, status: int,
                                                                   words: str) -> None:
    reply = _upload(client, data)
    assert reply.status_code == status, reply.text
    assert reply.json()["ok"] is False and words in reply.json()["error"]
    assert client.get("/api/v1/health").status_code == 200


def test_an_unsupported_operator_names_the_node_and_the_supported_list(client) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Softmax(dim=1))
    reply = _upload(client, _onnx(model, (3, 8, 8)))
    assert reply.status_code == 422
    assert "is a Softmax" in reply.json()["error"] and "Supported operators: Conv" in reply.json()["error"]


def test_unknown_and_evicted_ids(client) -> None:
    assert "Did you mean 'vgg16'" in client.get("/api/v1/models/vgg-16").json()["error"]
    reply = client.get("/api/v1/models/" + "0" * 64)
    assert reply.status_code == 404 and "upload it again" in reply.json()["error"]
