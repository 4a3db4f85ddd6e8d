"""The model catalogue (server/core/catalogue.py) against the numbers torchvision publishes.

torchvision is not importable beside the CPU torch build, so its published figures are the facts: the
parameter counts of its model cards and the 1000-class output. Each network is also built here as real
torch.nn modules by a small translator of the test's own (the reference for forward shapes), so a wrong
kernel size, stride or skip shows up as a wrong count, a shape mismatch or an error in torch itself.
"""
from __future__ import annotations


import pytest
import torch

from convscope.core.models import catalogue

from ..networks import TorchNetwork as _Net

# torchvision.models' documentation, "num_params" of each model's weights entry.
PUBLISHED_PARAMS = {"alexnet": 61_100_840, "vgg16": 138_357_544, "resnet18": 11_689_512,
                    "resnet50": 25_557_032, "mobilenet_v2": 3_504_872}


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
