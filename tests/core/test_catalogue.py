"""The model catalogue (server/core/catalogue.py) against the numbers torchvision publishes.

torchvision is not importable beside the CPU torch build, so its published figures are the facts: the
parameter counts of its model cards and the 1000-class output. Each network is also built here as real
torch.nn modules by a small translator of the test's own (the reference for forward shapes), so a wrong
kernel size, stride or skip shows up as a wrong count, a shape mismatch or an error in torch itself.
"""
from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from convscope.core import catalogue

# torchvision.models' documentation, "num_params" of each model's weights entry.
PUBLISHED_PARAMS = {"alexnet": 61_100_840, "vgg16": 138_357_544, "resnet18": 11_689_512,
                    "resnet50": 25_557_032, "mobilenet_v2": 3_504_872}


class _Net(nn.Module):
    """A network dict as torch modules: each layer reads its `input` (default: the layer before)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__()
        self.layers = body["layers"]
        self.mods = nn.ModuleDict()
        shapes: dict[str, tuple[int, ...]] = {"input": tuple(body["input_shape"])}
        previous = "input"
        for layer in self.layers:
            inputs = layer.get("inputs") or [layer.get("input", previous)]
            layer["_inputs"] = inputs
            probe = [torch.zeros(1, *shapes[name]) for name in inputs]
            module = self._module(layer, shapes[inputs[0]])
            if module is not None:
                self.mods[layer["name"].replace(".", "__")] = module
            with torch.no_grad():
                shapes[layer["name"]] = tuple(self._apply(layer, probe).shape[1:])
            previous = layer["name"]
        self.shapes = shapes

    @staticmethod
    def _module(layer: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
        op = layer["op"]
        kw = {k: v for k, v in layer.items() if k not in ("op", "name", "input", "inputs", "_inputs")}
        if op == "conv2d":
            return nn.Conv2d(shape[0], **kw)
        if op == "conv_transpose2d":
            return nn.ConvTranspose2d(shape[0], **kw)
        if op == "batch_norm2d":
            return nn.BatchNorm2d(shape[0])
        if op == "linear":
            return nn.Linear(shape[0], **kw)
        return None

    def _apply(self, layer: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
        op, key = layer["op"], layer["name"].replace(".", "__")
        if key in self.mods:
            return self.mods[key](xs[0])
        kw = {k: v for k, v in layer.items() if k not in ("op", "name", "input", "inputs", "_inputs")}
        table = {"relu": torch.relu, "relu6": nn.functional.relu6, "dropout": lambda x: x,
                 "flatten": lambda x: torch.flatten(x, 1),
                 "max_pool2d": lambda x: nn.functional.max_pool2d(x, **kw),
                 "adaptive_avg_pool2d": lambda x: nn.functional.adaptive_avg_pool2d(x, kw["output_size"])}
        if op == "add":
            return torch.stack(xs).sum(0)
        if op == "concat":
            return torch.cat(xs, 1)
        return table[op](xs[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {"input": x}
        for layer in self.layers:
            values[layer["name"]] = self._apply(layer, [values[n] for n in layer["_inputs"]])
        return values[self.layers[-1]["name"]]


@pytest.mark.parametrize("model_id", list(PUBLISHED_PARAMS))
def test_parameter_counts_and_output_equal_torchvision_published(model_id: str) -> None:
    net = _Net(catalogue.network(model_id))
    assert sum(p.numel() for p in net.parameters()) == PUBLISHED_PARAMS[model_id]
    assert net.shapes[net.layers[-1]["name"]] == (1000,)


def test_resnet_stage_shapes_and_module_paths() -> None:
    net = _Net(catalogue.network("resnet50"))
    assert [net.shapes[f"layer{i}.{b}.relu_2"] for i, b in ((1, 2), (2, 3), (3, 5), (4, 2))] == [
        (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    names = {layer["name"] for layer in net.layers}
    assert {"conv1", "bn1", "maxpool", "layer1.0.downsample.0", "layer4.2.conv3", "layer4.2.bn3", "fc"} <= names
    # torchvision's state_dict keys for parameters: the weights of every conv/bn/fc sit under these paths.
    keys = {k.replace("__", ".").removeprefix("mods.") for k in net.state_dict() if not k.endswith("tracked")}
    assert "layer2.0.downsample.1.running_var" in keys and "layer3.5.conv2.weight" in keys


def test_mobilenet_v2_block_paths_follow_torchvision() -> None:
    names = [layer["name"] for layer in catalogue.network("mobilenet_v2")["layers"]]
    assert names[:3] == ["features.0.0", "features.0.1", "features.0.2"]
    assert "features.1.conv.0.0" in names and "features.1.conv.1" in names and "features.1.conv.2" in names
    assert "features.2.conv.3" in names and "features.18.0" in names and names[-1] == "classifier.1"
    assert sum(1 for n in names if n.endswith(".add")) == 10  # the blocks with stride 1 and equal channels


@pytest.mark.parametrize("model_id", ["unet", "fcn"])
def test_course_networks_score_every_pixel(model_id: str) -> None:
    body = catalogue.network(model_id)
    net = _Net(body)
    assert net.shapes[net.layers[-1]["name"]] == (2, *body["input_shape"][1:])
    out = net(torch.randn(1, *body["input_shape"]))
    assert out.shape == (1, 2, *body["input_shape"][1:])


def test_every_name_is_unique_and_every_input_exists_before_it_is_read() -> None:
    for model_id in catalogue.MODEL_IDS:
        seen = {"input"}
        previous = "input"
        for layer in catalogue.network(model_id)["layers"]:
            for name in layer.get("inputs") or [layer.get("input", previous)]:
                assert name in seen, (model_id, layer["name"], name)
            assert layer["name"] not in seen, (model_id, layer["name"])
            seen.add(layer["name"])
            previous = layer["name"]


def test_unknown_model_suggests_the_closest() -> None:
    from convscope.core.exceptions import NotFound
    with pytest.raises(NotFound, match="Did you mean 'resnet18'"):
        catalogue.network("resnet-18")
