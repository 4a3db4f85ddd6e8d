"""A student's ONNX model (server/core/onnx_import.py): models built and exported by torch here give the
same numbers as torch's own forward once translated; hostile files are refused with a sentence.
"""
from __future__ import annotations

import io
import pickle
import warnings

import onnx
import pytest
import torch
from torch import nn

from convscope.core.models import onnx_import
from convscope.core.exceptions import ConvscopeError, InvalidRequest, TooLarge, Unsupported

from ..networks import TorchNetwork


def _export(model: nn.Module, shape: tuple[int, ...], **kw: object) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), torch.randn(1, *shape), buffer, dynamo=False, opset_version=17, **kw)
    return buffer.getvalue()


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.short = nn.Conv2d(3, 8, 1, stride=2)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.conv2(y) + self.short(x))
        return self.fc(torch.flatten(self.pool(y), 1))


class TinyUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.mid = nn.Conv2d(4, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.head = nn.Conv2d(8, 2, 1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.act(self.down(x))
        m = nn.functional.relu6(self.mid(self.pool(d)))
        u = torch.cat([d, self.up(m)], 1)
        return torch.sigmoid(self.head(u)) + torch.tanh(self.upsample(self.pool(self.head(u))))


@pytest.mark.parametrize(("model", "shape", "kw"), [
    pytest.param(Residual(), (3, 16, 16), {}, id="residual-bn-folded"),
    pytest.param(Residual(), (3, 16, 16), {"do_constant_folding": False,
                                           "training": torch.onnx.TrainingMode.PRESERVE}, id="residual-bn-kept"),
    pytest.param(TinyUNet(), (1, 16, 16), {}, id="unet-concat-transpose-upsample"),
])
def test_translated_model_computes_what_torch_computes(model: nn.Module, shape: tuple[int, ...], kw: dict) -> None:
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    net = onnx_import.translate(_export(model, shape, **kw))
    assert net.input_shape == list(shape)
    rebuilt = TorchNetwork(net.network(), net.weights)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model.eval()(x), rtol=1e-4, atol=1e-5)


def test_layers_are_named_by_module_path() -> None:
    net = onnx_import.translate(_export(Residual(), (3, 16, 16), do_constant_folding=False,
                                        training=torch.onnx.TrainingMode.PRESERVE))
    names = [layer["name"] for layer in net.layers]
    assert names[:3] == ["conv1", "bn1", "relu"]
    assert "add" in names and "fc" in names and "relu_1" in names
    add = next(layer for layer in net.layers if layer["op"] == "add")
    assert add["inputs"] == ["conv2", "short"]


def _model_with(node: onnx.NodeProto) -> bytes:
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 4, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    return onnx.helper.make_model(onnx.helper.make_graph([node], "g", [x], [y])).SerializeToString()


@pytest.mark.parametrize(("data", "error", "words"), [
    pytest.param(pickle.dumps({"state_dict": 1}), Unsupported, "pickle", id="pickle"),
    pytest.param(b"PK\x03\x04rest-of-a-zip", Unsupported, "pickle or a zip", id="torch-checkpoint-zip"),
    pytest.param(b"this is not a model", Unsupported, "cannot be read as an ONNX model", id="text"),
    pytest.param(_export(Residual(), (3, 16, 16))[:300], Unsupported, "ONNX", id="truncated"),
    pytest.param(_model_with(onnx.helper.make_node("Softmax", ["x"], ["y"], name="probs")), InvalidRequest,
                 "'probs' is a Softmax", id="unsupported-op"),
])
def test_hostile_or_unsupported_files_are_refused_with_a_sentence(data: bytes, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        onnx_import.translate(data)
    assert isinstance(caught.value, ConvscopeError)
    if error is InvalidRequest:
        assert "Supported operators: Conv" in caught.value.message


def test_a_huge_graph_is_refused_before_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_import, "MAX_NODES", 3)
    with pytest.raises(TooLarge, match="more than this server's cap of 3"):
        onnx_import.translate(_export(Residual(), (3, 16, 16)))
