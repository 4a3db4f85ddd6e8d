"""POST /api/v1/models/{id}/weights: a safetensors file saved here from torch modules built here with the
catalogue's torchvision keys runs on /pipeline and /pipeline/probe with those modules' numbers; damaged,
mismatched, pickled and oversize files are 4xx with a sentence, and the server keeps serving."""
from __future__ import annotations

import io
import json
import pickle
import struct

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import save

from convscope.app import create_app
from convscope.core.models import catalogue
from convscope.core.models.run import IMAGENET_MEAN, IMAGENET_STD
from convscope.settings import Settings
from tests.api.test_pipeline_models import _maps, _png
from tests.networks import TorchNetwork


def _state(net: TorchNetwork) -> dict[str, torch.Tensor]:
    return {k.removeprefix("mods.").replace("__", "."): v.contiguous() for k, v in net.state_dict().items()}


def _trained(seed: int = 2) -> TorchNetwork:
    torch.manual_seed(seed)
    net = TorchNetwork(catalogue.network("fcn"))
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return net.eval()


def _post(client: TestClient, data: bytes, model: str = "fcn", name: str = "w.safetensors"):
    return client.post(f"/api/v1/models/{model}/weights", files={"file": (name, data, "application/octet-stream")})


def _alive(client: TestClient) -> None:
    assert client.get("/api/v1/health").json()["ok"] is True


def test_uploaded_weights_give_that_modules_maps_on_pipeline_and_probe(client) -> None:
    trained = _trained()
    r = _post(client, save(_state(trained)))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["model"] == "fcn" and len(got["id"]) == 64 and got["use"] == {"model": {"id": "fcn",
                                                                                      "weights": got["id"]}}
    png, photo = _png(128, seed=5)
    image_id = client.post("/api/v1/images", files={"file": ("p.png", png, "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "model": {"id": "fcn", "weights": got["id"]},
                                              "encoding": "f32", "max_side": 1024})
    assert r.status_code == 200, r.text
    assert r.json()["model"]["weights"] == "uploaded" and r.json()["model"]["weights_id"] == got["id"]
    x = (photo - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        want = trained(x)[0].numpy()
    np.testing.assert_allclose(_maps(r.json()["layers"][-1]), want, rtol=1e-4, atol=1e-5)
    # the same model with random weights gives other maps: the upload is what ran
    r2 = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "model": {"id": "fcn"},
                                               "encoding": "f32", "max_side": 1024})
    assert r2.json()["model"]["weights"] == "random"
    assert not np.allclose(_maps(r2.json()["layers"][-1]), want, atol=1e-3)
    r = client.post("/api/v1/pipeline/probe", json={"image": {"id": image_id}, "unit": {"layer": 1, "y": 4, "x": 4},
                                                    "model": {"id": "fcn", "weights": got["id"]}})
    assert r.status_code == 200, r.text
    assert r.json()["model"]["weights_id"] == got["id"]


def test_weights_refusals_are_4xx_with_a_sentence_and_the_server_keeps_serving(client) -> None:
    state = _state(_trained())
    first = next(k for k in state if k.endswith("weight"))

    wrong_key = dict(state)
    wrong_key["nope." + first] = wrong_key.pop(first)
    r = _post(client, save(wrong_key))
    assert r.status_code == 422 and f"missing {first}" in r.json()["error"] and "nope." in r.json()["error"]
    _alive(client)

    wrong_shape = dict(state)
    wrong_shape[first] = torch.zeros(3, 3)
    r = _post(client, save(wrong_shape))
    want = tuple(state[first].shape)
    assert r.status_code == 422 and f"{first} is (3, 3), the model's is {want}" in r.json()["error"]
    _alive(client)

    wrong_dtype = dict(state)
    wrong_dtype[first] = state[first].to(torch.int32)
    r = _post(client, save(wrong_dtype))
    assert r.status_code == 422 and "stored as I32" in r.json()["error"] and "floating point" in r.json()["error"]

    good = save(state)
    r = _post(client, good[: len(good) // 2])
    assert r.status_code == 415 and "damaged" in r.json()["error"]
    r = _post(client, good[:40])
    assert r.status_code == 415 and "truncated" in r.json()["error"]

    buf = io.BytesIO()
    torch.save(state, buf)  # a zip with a pickle inside
    r = _post(client, buf.getvalue(), name="w.pth")
    assert r.status_code == 415 and "save_file" in r.json()["error"]
    r = _post(client, pickle.dumps({"a": 1}), name="w.pkl")
    assert r.status_code == 415 and "never opens" in r.json()["error"]

    r = _post(client, b"garbage!" * 100)
    assert r.status_code in (413, 415) and r.json()["error"].endswith(".")
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    r = _post(client, struct.pack("<Q", len(header)) + header[:-1] + b"\xff" + bytes(8))
    assert r.status_code == 415 and "not JSON" in r.json()["error"]

    r = _post(client, good, model="resnet-18")
    assert r.status_code == 404 and "resnet18" in r.json()["error"]
    r = _post(client, good, model="resnet18")
    assert r.status_code == 422 and "do not fit this model" in r.json()["error"]

    sample = {"sample": "checkerboard"}
    r = client.post("/api/v1/pipeline", json={"image": sample, "model": {"id": "fcn", "weights": "ab" * 32}})
    assert r.status_code == 404 and "upload them again" in r.json()["error"]
    r = client.post("/api/v1/pipeline", json={"image": sample, "model": {"id": "fcn", "weights": "x"}})
    assert r.status_code == 422 and "sha256" in r.json()["error"]
    held = _post(client, good).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": sample, "model": {"id": "unet", "weights": held}})
    assert r.status_code == 422 and "uploaded for 'fcn'" in r.json()["error"]
    _alive(client)


def test_an_oversize_weights_file_is_413_before_the_body_is_read() -> None:
    good = save(_state(_trained()))
    app = create_app(Settings(device="cpu", max_weights_bytes=len(good) - 1))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = _post(client, good)
        assert r.status_code == 413 and f"{len(good) - 1:,} bytes" in r.json()["error"]
        # chunked (no Content-Length): cut off as it streams
        body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.safetensors\"\r\n\r\n" + good \
            + b"\r\n--b--\r\n"
        r = client.post("/api/v1/models/fcn/weights", content=iter([body[:1000], body[1000:]]),
                        headers={"content-type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413
        _alive(client)


@pytest.mark.parametrize("model_id", ["resnet18"])
def test_a_catalogue_state_dict_upload_matches_the_modules_forward(client, model_id: str) -> None:
    torch.manual_seed(4)
    net = TorchNetwork(catalogue.network(model_id)).eval()
    r = _post(client, save(_state(net)), model=model_id)
    assert r.status_code == 200, r.text
    png, photo = _png(96, seed=2)
    image_id = client.post("/api/v1/images", files={"file": ("p.png", png, "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "encoding": "f32", "max_side": 1024,
                                              "model": {"id": model_id, "weights": r.json()["id"],
                                                        "normalize": "none"}})
    assert r.status_code == 200, r.text
    x = torch.nn.functional.interpolate(photo, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
    with torch.no_grad():
        want = net(x)[0].numpy()
    np.testing.assert_allclose(_maps(r.json()["layers"][-1]), want.reshape(_maps(r.json()["layers"][-1]).shape),
                               rtol=1e-3, atol=1e-4)
