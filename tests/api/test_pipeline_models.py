"""`"model": {"id": ...}` on /pipeline and /pipeline/probe: an uploaded ONNX model exported by torch here,
a catalogue model with its documented random weights, and trained weights from a safetensors file made
here, each against torch's own forward of the same module (float32 tolerance)."""
from __future__ import annotations

import base64
import io
import warnings

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from convscope.app import create_app
from convscope.core.models import catalogue
from convscope.core.models.run import IMAGENET_MEAN, IMAGENET_STD, random_weights
from convscope.settings import Settings
from tests.networks import TorchNetwork


def _png(side: int, seed: int = 3) -> tuple[bytes, torch.Tensor]:
    arr = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue(), torch.tensor(arr.transpose(2, 0, 1) / 255, dtype=torch.float32)[None]


def _maps(block: dict) -> np.ndarray:
    return np.stack([np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["height"], m["width"])
                     for m in block["maps"]]).astype(np.float64)


def _export(model: nn.Module, shape: tuple[int, ...], **kw) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), torch.randn(1, *shape), buf, dynamo=False, opset_version=17, **kw)
    return buf.getvalue()


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.short = nn.Conv2d(3, 8, 1, stride=2)
        self.out = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv2(self.act(self.bn1(self.conv1(x)))) + self.short(x))


class TinyUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.mid = nn.Conv2d(4, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = torch.relu(self.down(x))
        return self.head(torch.cat([d, self.up(torch.relu(self.mid(self.pool(d))))], 1))


def _module_outputs(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if name:
            module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.detach()))
    with torch.no_grad():
        seen["(output)"] = model(x)
    return seen


@pytest.mark.parametrize("make", [Residual, TinyUNet], ids=["residual-bn", "unet-concat-transpose"])
def test_an_uploaded_onnx_model_gives_torchs_maps(client, make) -> None:
    torch.manual_seed(0)
    model = make().eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
    data = _export(model, (3, 16, 16), do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    model_id = client.post("/api/v1/models", files={"file": ("m.onnx", data, "application/octet-stream")}).json()["id"]
    png, x = _png(16)
    image_id = client.post("/api/v1/images", files={"file": ("p.png", png, "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "model": {"id": model_id},
                                              "encoding": "f32", "max_side": 1024})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["weights"] == "uploaded" and body["model"]["input"]["normalize"] == "none"
    np.testing.assert_allclose(_maps(body["input"]), x[0].numpy(), atol=1e-7)  # [0, 1], no resize needed
    want = _module_outputs(model, x)
    blocks = {b["name"]: b for b in body["layers"]}
    compared = [name for name in want if name in blocks and name not in ("act", "out")]
    assert len(compared) >= 4, compared
    for name in compared:
        np.testing.assert_allclose(_maps(blocks[name]), want[name][0].numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(_maps(body["layers"][-1]), want["(output)"][0].numpy(), rtol=1e-4, atol=1e-5)


def test_a_catalogue_resnet18_runs_its_documented_random_weights(client) -> None:
    png, photo = _png(224, seed=4)
    image_id = client.post("/api/v1/images", files={"file": ("p.png", png, "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "model": {"id": "resnet18", "seed": 7},
                                              "encoding": "f32", "max_side": 1024})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] | {"input": None} == {"id": "resnet18", "title": "ResNet-18", "weights": "random",
                                               "seed": 7, "input": None}
    x = (photo - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    np.testing.assert_allclose(_maps(body["input"]), x[0].numpy(), rtol=1e-5, atol=1e-5)
    network = catalogue.network("resnet18")
    net = TorchNetwork(network, random_weights(network, 7))
    values = {"input": x}
    with torch.no_grad():
        for layer in net.layers:
            values[layer["name"]] = net._apply(layer, [values[n] for n in net.reads[layer["name"]]])
    blocks = {b["name"]: b for b in body["layers"]}
    assert list(blocks) == [layer["name"] for layer in network["layers"]]
    for name in ("conv1", "layer1.0.add", "layer2.0.downsample.1", "layer4.1.relu_1", "fc"):
        want = values[name][0].numpy()
        got = _maps(blocks[name]).reshape(want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()), err_msg=name)


def test_the_probe_runs_through_a_catalogue_model(client) -> None:
    r = client.post("/api/v1/pipeline/probe", json={"image": {"sample": "checkerboard"},
                                                    "model": {"id": "unet"}, "unit": {"layer": 10, "y": 10, "x": 20}})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["model"]["id"] == "unet" and got["unit"]["name"] == "pool2"
    box, clip = got["effective"]["bbox"], got["clipped"]
    assert box is not None and clip["y0"] <= box["y0"] and box["y1"] <= clip["y1"]
    assert got["hypercolumn"]["layers"][0]["name"] == "input"


def test_trained_weights_from_a_safetensors_file_give_that_modules_maps(tmp_path) -> None:
    torch.manual_seed(2)
    network = catalogue.network("fcn")
    trained = TorchNetwork(network)
    state = {k.removeprefix("mods.").replace("__", "."): v.contiguous() for k, v in trained.state_dict().items()}
    save_file(state, str(tmp_path / "fcn.safetensors"))
    png, photo = _png(128, seed=5)
    with TestClient(create_app(Settings(device="cpu", weights_dir=str(tmp_path)))) as client:
        image_id = client.post("/api/v1/images", files={"file": ("p.png", png, "image/png")}).json()["id"]
        r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "model": {"id": "fcn"},
                                                  "encoding": "f32", "max_side": 1024})
    assert r.status_code == 200, r.text
    assert r.json()["model"]["weights"] == "trained"
    x = (photo - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        want = trained(x)[0].numpy()
    np.testing.assert_allclose(_maps(r.json()["layers"][-1]), want, rtol=1e-4, atol=1e-5)


def test_model_refusals(client) -> None:
    sample = {"sample": "checkerboard"}
    r = client.post("/api/v1/pipeline", json={"image": sample, "model": {"id": "ab" * 32}})
    assert r.status_code == 404 and "upload it again" in r.json()["error"]
    r = client.post("/api/v1/pipeline", json={"image": sample, "model": {"id": "resnet-18"}})
    assert r.status_code == 404 and "Did you mean 'resnet18'" in r.json()["error"]
    r = client.post("/api/v1/pipeline", json={"image": sample, "model": {"id": "fcn"}, "layers": [{"op": "relu"}]})
    assert r.status_code == 422 and "not both" in r.json()["error"]
    r = client.post("/api/v1/pipeline/probe", json={"image": sample, "model": {"id": "fcn", "sed": 1},
                                                    "unit": {"layer": 0, "y": 0, "x": 0}})
    assert r.status_code == 422 and "no field 'sed'" in r.json()["error"]


def test_a_model_past_the_maps_cap_is_413_before_it_runs(client, monkeypatch) -> None:
    from convscope.core import pipeline
    monkeypatch.setattr(pipeline, "MAX_MAPS", 1000)
    r = client.post("/api/v1/pipeline", json={"image": {"sample": "checkerboard"}, "model": {"id": "resnet50"}})
    assert r.status_code == 413 and "channels, more than the 1,000" in r.json()["error"]
