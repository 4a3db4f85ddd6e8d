"""Trained catalogue weights from safetensors (server/core/weights.py): a file saved in the test from torch
modules with the catalogue's keys gives those modules' numbers; wrong keys, shapes and pickles are refused.
"""
from __future__ import annotations

import io
import json
import struct

import pytest
import torch
from safetensors.torch import save

from convscope.core.models import catalogue
from convscope.core.exceptions import InvalidRequest, TooLarge, Unsupported
from convscope.core.models.weights import parameter_shapes, read_safetensors

from ..networks import TorchNetwork


def _expected(net: TorchNetwork) -> dict[str, dict[str, tuple[int, ...]]]:
    out = {}
    for layer in net.layers:
        shapes = parameter_shapes(layer, net.shapes[net.reads[layer["name"]][0]], net.shapes[layer["name"]])
        if shapes:
            out[layer["name"]] = shapes
    return out


def _state_dict(net: TorchNetwork) -> dict[str, torch.Tensor]:
    return {k.removeprefix("mods.").replace("__", "."): v.contiguous() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("model_id", ["resnet18", "mobilenet_v2", "unet"])
def test_a_state_dict_with_the_catalogue_keys_gives_that_modules_numbers(model_id: str) -> None:
    torch.manual_seed(1)
    body = catalogue.network(model_id)
    trained = TorchNetwork(body)
    for module in trained.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    weights = read_safetensors(save(_state_dict(trained)), _expected(trained))
    assert weights["layer1.0.conv1" if model_id == "resnet18" else next(iter(weights))]
    rebuilt = TorchNetwork(catalogue.network(model_id), weights)
    x = torch.randn(1, *body["input_shape"])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), trained(x))


def test_parameter_shapes_equal_torchs_modules_for_every_catalogue_model() -> None:
    for model_id in catalogue.MODEL_IDS:
        net = TorchNetwork(catalogue.network(model_id))
        want = {k: tuple(v.shape) for k, v in _state_dict(net).items() if not k.endswith("num_batches_tracked")}
        got = {f"{layer}.{p}": s for layer, params in _expected(net).items() for p, s in params.items()}
        assert got == want, model_id


def _resnet18() -> tuple[TorchNetwork, dict[str, torch.Tensor]]:
    net = TorchNetwork(catalogue.network("resnet18"))
    return net, _state_dict(net)


def test_wrong_keys_and_shapes_are_named() -> None:
    net, state = _resnet18()
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    state["head.weight"] = state.pop("fc.weight")
    with pytest.raises(InvalidRequest) as caught:
        read_safetensors(save(state), _expected(net))
    message = caught.value.message
    assert "missing fc.weight" in message and "not in the model head.weight" in message
    assert "layer1.0.conv1.weight is (64, 64, 1, 1), the model's is (64, 64, 3, 3)" in message


def test_bfloat16_and_float16_files_are_read_as_float32() -> None:
    net, state = _resnet18()
    half = {k: (v.to(torch.bfloat16) if "layer" in k else v.half()) for k, v in state.items()}
    weights = read_safetensors(save(half), _expected(net))
    torch.testing.assert_close(torch.from_numpy(weights["fc"]["weight"]), state["fc.weight"].half().float())
    torch.testing.assert_close(torch.from_numpy(weights["layer1.0.conv1"]["weight"]),
                               state["layer1.0.conv1.weight"].to(torch.bfloat16).float())


def _pth(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("make", "error", "words"), [
    pytest.param(lambda s: _pth(s), Unsupported, "never opens", id="torch-save-pth"),
    pytest.param(lambda s: b"\x80\x04" + b"x" * 20, Unsupported, "pickle", id="pickle"),
    pytest.param(lambda s: save(s)[:1000], Unsupported, "truncated", id="truncated"),
    pytest.param(lambda s: struct.pack("<Q", 2**40) + b"{}", TooLarge, "header", id="huge-header"),
    pytest.param(lambda s: struct.pack("<Q", 4) + b"nope", Unsupported, "not JSON", id="not-json"),
    pytest.param(lambda s: (lambda h: struct.pack("<Q", len(h)) + h)(json.dumps(
        {"fc.weight": {"dtype": "F32", "shape": [1000, 512], "data_offsets": [0, 99]}}).encode()),
        Unsupported, "damaged", id="offsets-past-the-end"),
])
def test_hostile_files_are_refused_with_a_sentence(make, error: type, words: str) -> None:
    net, state = _resnet18()
    with pytest.raises(error, match=words):
        read_safetensors(make(state), _expected(net))


def test_a_weights_folder_supplies_a_catalogue_models_trained_weights(tmp_path) -> None:
    from safetensors.torch import save_file

    from convscope.core.models.weights import expected_parameters, trained_weights
    net = TorchNetwork(catalogue.network("alexnet"))
    assert expected_parameters(catalogue.network("alexnet")) == _expected(net)
    save_file(_state_dict(net), str(tmp_path / "alexnet.safetensors"))
    weights = trained_weights(str(tmp_path), "alexnet", catalogue.network("alexnet"))
    torch.testing.assert_close(torch.from_numpy(weights["features.0"]["weight"]), net.mods["features__0"].weight)
    assert trained_weights(str(tmp_path), "vgg16", catalogue.network("vgg16")) is None
    assert trained_weights("", "alexnet", catalogue.network("alexnet")) is None
