"""The model catalogue: networks written layer for layer as torchvision builds them, plus the course's own.

Each model is a network in the /shapes form with names and merges (README, "Networks"): every layer
carries `name`, torchvision's module path (`features.0`, `layer4.2.conv3`, `classifier.6`), and reads
the layer before it unless it names its `input`. Residual sums are `add` layers and U-Net skips are
`concat` layers. A module that torchvision applies twice (a ResNet block's one `relu`) gets torch.fx's
suffixes for its later calls (`relu_1`, `relu_2`); a functional call in `forward` (the flatten before
the classifier, the residual sum) is named after the function (`flatten`, `layer1.0.add`).

torchvision itself is not imported (its CUDA-free wheels do not load beside the CPU torch build): the
definitions follow torchvision's source and the papers, and tests/core/test_catalogue.py checks them
against the numbers torchvision publishes (parameter counts, output shapes) and against torch modules
built in the test.

No weights are downloaded: a catalogue model runs with seeded random weights, or with a course's own
trained weights from a safetensors file of the torchvision `state_dict` (README, "Models").
"""
from __future__ import annotations

import copy
from typing import Any

from ..exceptions import NotFound, did_you_mean

Layer = dict[str, Any]


def _conv(name: str, out: int, k: int, *, stride: int = 1, padding: int = 0, groups: int = 1,
          bias: bool = True, input: str | None = None) -> Layer:
    layer: Layer = {"op": "conv2d", "name": name, "out_channels": out, "kernel_size": k}
    layer.update({key: value for key, value, default in (("stride", stride, 1), ("padding", padding, 0),
                                                          ("groups", groups, 1), ("bias", bias, True))
                  if value != default})
    if input is not None:
        layer["input"] = input
    return layer


def _op(op: str, name: str, **kw: Any) -> Layer:
    return {"op": op, "name": name, **kw}


# --- AlexNet and VGG-16: torchvision's `features` / `avgpool` / `classifier` Sequentials ----------------

def _alexnet() -> list[Layer]:
    spec = [("conv", 64, 11, 4, 2), ("relu",), ("pool",), ("conv", 192, 5, 1, 2), ("relu",), ("pool",),
            ("conv", 384, 3, 1, 1), ("relu",), ("conv", 256, 3, 1, 1), ("relu",), ("conv", 256, 3, 1, 1),
            ("relu",), ("pool",)]
    layers: list[Layer] = []
    for i, item in enumerate(spec):
        name = f"features.{i}"
        if item[0] == "conv":
            layers.append(_conv(name, item[1], item[2], stride=item[3], padding=item[4]))
        elif item[0] == "relu":
            layers.append(_op("relu", name))
        else:
            layers.append(_op("max_pool2d", name, kernel_size=3, stride=2))
    layers += [_op("adaptive_avg_pool2d", "avgpool", output_size=[6, 6]), _op("flatten", "flatten"),
               _op("dropout", "classifier.0", p=0.5), _op("linear", "classifier.1", out_features=4096),
               _op("relu", "classifier.2"), _op("dropout", "classifier.3", p=0.5),
               _op("linear", "classifier.4", out_features=4096), _op("relu", "classifier.5"),
               _op("linear", "classifier.6", out_features=1000)]
    return layers


def _vgg16() -> list[Layer]:
    layers: list[Layer] = []
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]  # config D
    for width in cfg:
        i = len(layers)
        if width == "M":
            layers.append(_op("max_pool2d", f"features.{i}", kernel_size=2, stride=2))
        else:
            layers += [_conv(f"features.{i}", int(width), 3, padding=1), _op("relu", f"features.{i + 1}")]
    return layers + [_op("adaptive_avg_pool2d", "avgpool", output_size=[7, 7]), _op("flatten", "flatten"),
                     _op("linear", "classifier.0", out_features=4096), _op("relu", "classifier.1"),
                     _op("dropout", "classifier.2", p=0.5), _op("linear", "classifier.3", out_features=4096),
                     _op("relu", "classifier.4"), _op("dropout", "classifier.5", p=0.5),
                     _op("linear", "classifier.6", out_features=1000)]


# --- ResNets: BasicBlock (18, 34) and Bottleneck (50, 101, 152), stride on the 3×3 conv (v1.5) ----------

def _conv_bn(prefix: str, conv: str, bn: str, out: int, k: int, stride: int = 1, **kw: Any) -> list[Layer]:
    """torchvision's conv (no bias, padding k // 2) then its batch norm; the stem has no prefix."""
    path = (lambda part: f"{prefix}.{part}") if prefix else (lambda part: part)
    return [_conv(path(conv), out, k, stride=stride, padding=k // 2, bias=False, **kw),
            _op("batch_norm2d", path(bn))]


def _residual_block(prefix: str, block_in: str, widths: list[tuple[int, int, int]], out: int,
                    downsample_stride: int | None) -> list[Layer]:
    """conv/bn pairs with a relu between them, the shortcut (projected when shapes change), add, relu."""
    layers: list[Layer] = []
    for i, (width, k, stride) in enumerate(widths, start=1):
        pair = _conv_bn(prefix, f"conv{i}", f"bn{i}", width, k, stride)
        if i == 1:
            pair[0]["input"] = block_in
        layers += pair
        if i < len(widths):
            layers.append(_op("relu", f"{prefix}.relu" + (f"_{i - 1}" if i > 1 else "")))
    last = layers[-1]["name"]
    shortcut = block_in
    if downsample_stride is not None:
        layers += _conv_bn(prefix, "downsample.0", "downsample.1", out, 1, downsample_stride, input=block_in)
        shortcut = f"{prefix}.downsample.1"
    layers.append(_op("add", f"{prefix}.add", inputs=[last, shortcut]))
    layers.append(_op("relu", f"{prefix}.relu_{len(widths) - 1}"))
    return layers


def _resnet(blocks: list[int], bottleneck: bool) -> list[Layer]:
    layers: list[Layer] = [*_conv_bn("", "conv1", "bn1", 64, 7, 2), _op("relu", "relu"),
                           _op("max_pool2d", "maxpool", kernel_size=3, stride=2, padding=1)]
    expansion = 4 if bottleneck else 1
    channels, previous = 64, "maxpool"
    for stage, count in enumerate(blocks, start=1):
        planes = 64 * 2 ** (stage - 1)
        for b in range(count):
            stride = 2 if stage > 1 and b == 0 else 1
            out = planes * expansion
            widths = ([(planes, 1, 1), (planes, 3, stride), (out, 1, 1)] if bottleneck
                      else [(planes, 3, stride), (planes, 3, 1)])
            needs_projection = stride != 1 or channels != out
            block = _residual_block(f"layer{stage}.{b}", previous, widths, out,
                                    stride if needs_projection else None)
            layers += block
            channels, previous = out, block[-1]["name"]
    return layers + [_op("adaptive_avg_pool2d", "avgpool", output_size=[1, 1]), _op("flatten", "flatten"),
                     _op("linear", "fc", out_features=1000)]


# --- MobileNetV2: Conv2dNormActivation (conv, bn, relu6) and InvertedResidual blocks --------------------

def _cna(prefix: str, out: int, k: int, stride: int = 1, groups: int = 1, act: bool = True,
         input: str | None = None) -> list[Layer]:
    layers = [_conv(f"{prefix}.0", out, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=False,
                    input=input), _op("batch_norm2d", f"{prefix}.1")]
    return layers + ([_op("relu6", f"{prefix}.2")] if act else [])


def _mobilenet_v2() -> list[Layer]:
    layers = _cna("features.0", 32, 3, stride=2)
    channels, previous, index = 32, "features.0.2", 1
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]  # t (expansion), c (channels), n (repeats), s (first stride)
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            prefix = f"features.{index}.conv"
            hidden = channels * t
            block: list[Layer] = []
            if t != 1:
                block += _cna(f"{prefix}.0", hidden, 1, input=previous)
            dw = f"{prefix}.{len(block) // 3}"
            block += _cna(dw, hidden, 3, stride=stride, groups=hidden, input=None if block else previous)
            j = len(block) // 3
            block += [_conv(f"{prefix}.{j}", c, 1, bias=False), _op("batch_norm2d", f"{prefix}.{j + 1}")]
            if stride == 1 and channels == c:
                block.append(_op("add", f"features.{index}.add", inputs=[block[-1]["name"], previous]))
            layers += block
            channels, previous, index = c, block[-1]["name"], index + 1
    layers += _cna(f"features.{index}", 1280, 1)
    return layers + [_op("adaptive_avg_pool2d", "avgpool", output_size=[1, 1]), _op("flatten", "flatten"),
                     _op("dropout", "classifier.0", p=0.2), _op("linear", "classifier.1", out_features=1000)]


# --- The course's networks: a U-Net with concat skips, and a small fully convolutional net -------------

def _double_conv(prefix: str, out: int, input: str | None = None) -> list[Layer]:
    return [_conv(f"{prefix}.conv1", out, 3, padding=1, input=input), _op("relu", f"{prefix}.relu1"),
            _conv(f"{prefix}.conv2", out, 3, padding=1), _op("relu", f"{prefix}.relu2")]


def _unet() -> list[Layer]:
    widths = [16, 32, 64]
    layers: list[Layer] = []
    skips: list[str] = []
    for level, width in enumerate(widths, start=1):
        layers += _double_conv(f"down{level}", width)
        skips.append(layers[-1]["name"])
        layers.append(_op("max_pool2d", f"pool{level}", kernel_size=2, stride=2))
    layers += _double_conv("bottom", 2 * widths[-1])
    for level, width in reversed(list(enumerate(widths, start=1))):
        layers.append({"op": "conv_transpose2d", "name": f"up{level}.upconv", "out_channels": width,
                       "kernel_size": 2, "stride": 2})
        layers.append(_op("concat", f"up{level}.concat", inputs=[skips[level - 1], f"up{level}.upconv"]))
        layers += _double_conv(f"up{level}", width)
    return layers + [_conv("head", 2, 1)]


def _fcn() -> list[Layer]:
    return [_conv("features.0", 16, 3, padding=1), _op("relu", "features.1"),
            _op("max_pool2d", "features.2", kernel_size=2, stride=2),
            _conv("features.3", 32, 3, padding=1), _op("relu", "features.4"),
            _op("max_pool2d", "features.5", kernel_size=2, stride=2),
            _conv("features.6", 64, 3, padding=1), _op("relu", "features.7"),
            _op("max_pool2d", "features.8", kernel_size=2, stride=2),
            _conv("score", 2, 1),
            {"op": "conv_transpose2d", "name": "upscore", "out_channels": 2, "kernel_size": 16, "stride": 8,
             "padding": 4, "bias": False}]


_TORCHVISION = "torchvision.models.{} (layer for layer; no weights downloaded)"
_MODELS: list[dict[str, Any]] = [
    {"id": "alexnet", "title": "AlexNet (torchvision)", "input_shape": [3, 224, 224], "layers": _alexnet(),
     "source": "Krizhevsky, One weird trick for parallelizing convolutional neural networks, 2014; "
               + _TORCHVISION.format("alexnet")},
    {"id": "vgg16", "title": "VGG-16", "input_shape": [3, 224, 224], "layers": _vgg16(),
     "source": "Simonyan & Zisserman, ICLR 2015 (configuration D); " + _TORCHVISION.format("vgg16")},
    {"id": "resnet18", "title": "ResNet-18", "input_shape": [3, 224, 224], "layers": _resnet([2, 2, 2, 2], False),
     "source": "He, Zhang, Ren & Sun, CVPR 2016; " + _TORCHVISION.format("resnet18")},
    {"id": "resnet50", "title": "ResNet-50", "input_shape": [3, 224, 224], "layers": _resnet([3, 4, 6, 3], True),
     "source": "He, Zhang, Ren & Sun, CVPR 2016 (stride on the 3×3 conv, as torchvision's v1.5); "
               + _TORCHVISION.format("resnet50")},
    {"id": "mobilenet_v2", "title": "MobileNetV2", "input_shape": [3, 224, 224], "layers": _mobilenet_v2(),
     "source": "Sandler, Howard, Zhu, Zhmoginov & Chen, CVPR 2018; " + _TORCHVISION.format("mobilenet_v2")},
    {"id": "unet", "title": "U-Net (the course's, three levels)", "input_shape": [3, 128, 128],
     "layers": _unet(),
     "source": "Ronneberger, Fischer & Brox, U-Net, MICCAI 2015, with padded 3×3 convolutions so that the "
               "output keeps the input's size; course notes 004 (U-Nets and hourglass networks)."},
    {"id": "fcn", "title": "A small fully convolutional network", "input_shape": [3, 128, 128],
     "layers": _fcn(),
     "source": "Long, Shelhamer & Darrell, Fully Convolutional Networks for Semantic Segmentation, CVPR 2015 "
               "(a 1×1 score layer and a learned 8× upsampling, as FCN-8s' last step); course notes 002."},
]
MODEL_IDS: tuple[str, ...] = tuple(m["id"] for m in _MODELS)


def network(model_id: str) -> dict[str, Any]:
    """The model as a network body for /shapes and /receptive-field: {input_shape, input_size, layers}."""
    model = _find(model_id)
    return {"input_shape": list(model["input_shape"]), "input_size": list(model["input_shape"][1:]),
            "layers": copy.deepcopy(model["layers"])}


def describe(model_id: str) -> dict[str, Any]:
    model = _find(model_id)
    return {key: copy.deepcopy(model[key]) for key in ("id", "title", "source", "input_shape")}


def _find(model_id: str) -> dict[str, Any]:
    for model in _MODELS:
        if model["id"] == model_id:
            return model
    hint = did_you_mean(model_id, MODEL_IDS, sentence=True)
    raise NotFound(f"There is no model {model_id!r} in the catalogue.{hint} The models are: "
                   f"{', '.join(MODEL_IDS)}.", ["model_id"])


def list_models() -> list[dict[str, Any]]:
    return [describe(model_id) | {"layers": len(_find(model_id)["layers"])} for model_id in MODEL_IDS]
