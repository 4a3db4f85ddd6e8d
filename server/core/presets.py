"""Named layer stacks from the course and the papers it cites, each usable unchanged as the body of
POST /api/v1/shapes and POST /api/v1/receptive-field.

A preset is {"id", "title", "description", "source", "input_shape": [C, H, W], "input_size": [H, W],
"layers": [...]}, the layers in the /shapes form (torch.nn constructor arguments, in_channels inferred).
"""
from __future__ import annotations

import copy
from typing import Any

from .exceptions import NotFound, did_you_mean


def _conv(name: str, out: int, k: int, **kw: Any) -> dict[str, Any]:
    return {"op": "conv2d", "name": name, "out_channels": out, "kernel_size": k, **kw}


def _op(op: str, name: str, **kw: Any) -> dict[str, Any]:
    return {"op": op, "name": name, **kw}


def _classifier(first_in: str, fc: list[tuple[str, int]], dropout_first: bool) -> list[dict[str, Any]]:
    """fc6, fc7 (relu + dropout each) and fc8, as torchvision orders them."""
    layers: list[dict[str, Any]] = [_op("flatten", first_in)]
    for name, out in fc[:-1]:
        n = name[2:]
        block = [_op("linear", name, out_features=out), _op("relu", f"relu{n}")]
        layers += ([_op("dropout", f"drop{n}")] + block) if dropout_first else (block + [_op("dropout", f"drop{n}")])
    return layers + [_op("linear", fc[-1][0], out_features=fc[-1][1])]


_FC = [("fc6", 4096), ("fc7", 4096), ("fc8", 1000)]

_ALEXNET_ORIGINAL = [
    _conv("conv1", 96, 11, stride=4), _op("relu", "relu1"), _op("max_pool2d", "pool1", kernel_size=3, stride=2),
    _conv("conv2", 256, 5, padding=2, groups=2), _op("relu", "relu2"),
    _op("max_pool2d", "pool2", kernel_size=3, stride=2),
    _conv("conv3", 384, 3, padding=1), _op("relu", "relu3"),
    _conv("conv4", 384, 3, padding=1, groups=2), _op("relu", "relu4"),
    _conv("conv5", 256, 3, padding=1, groups=2), _op("relu", "relu5"),
    _op("max_pool2d", "pool5", kernel_size=3, stride=2),
    *_classifier("flatten", _FC, dropout_first=False),
]

_ALEXNET_TORCHVISION = [
    _conv("conv1", 64, 11, stride=4, padding=2), _op("relu", "relu1"),
    _op("max_pool2d", "pool1", kernel_size=3, stride=2),
    _conv("conv2", 192, 5, padding=2), _op("relu", "relu2"), _op("max_pool2d", "pool2", kernel_size=3, stride=2),
    _conv("conv3", 384, 3, padding=1), _op("relu", "relu3"),
    _conv("conv4", 256, 3, padding=1), _op("relu", "relu4"),
    _conv("conv5", 256, 3, padding=1), _op("relu", "relu5"), _op("max_pool2d", "pool5", kernel_size=3, stride=2),
    _op("adaptive_avg_pool2d", "avgpool", output_size=[6, 6]),
    *_classifier("flatten", _FC, dropout_first=True),
]


def _vgg16() -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    for block, (width, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        for i in range(1, convs + 1):
            layers += [_conv(f"conv{block}_{i}", width, 3, padding=1), _op("relu", f"relu{block}_{i}")]
        layers.append(_op("max_pool2d", f"pool{block}", kernel_size=2, stride=2))
    layers.append(_op("adaptive_avg_pool2d", "avgpool", output_size=[7, 7]))
    return layers + _classifier("flatten", _FC, dropout_first=False)


_PRESETS: list[dict[str, Any]] = [
    {"id": "alexnet-original", "title": "AlexNet, as published (227 × 227)",
     "description": "The lecture's AlexNet table: conv1 11×11 stride 4 without padding on a 227×227 input gives "
                    "55×55×96, then 27, 27, 13, 13, 13, 13, 6. conv2, conv4 and conv5 are split into 2 groups, "
                    "as on the paper's two GPUs (G times fewer weights). Local response normalization is left out: "
                    "it has no parameters and keeps the shape.",
     "source": "Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep Convolutional Neural Networks, "
               "NIPS 2012; course notes 001 (TTIC 31230, AlexNet table).",
     "input_shape": [3, 227, 227], "layers": _ALEXNET_ORIGINAL},
    {"id": "alexnet-torchvision", "title": "AlexNet, as torchvision builds it (224 × 224)",
     "description": "torchvision.models.alexnet: conv1 has padding 2 so that a 224×224 input also gives 55×55; "
                    "64/192/384/256/256 channels, no groups; an adaptive average pool to 6×6 before the "
                    "classifier. 61,100,840 parameters.",
     "source": "torchvision.models.alexnet (after Krizhevsky, One weird trick for parallelizing convolutional "
               "neural networks, 2014).",
     "input_shape": [3, 224, 224], "layers": _ALEXNET_TORCHVISION},
    {"id": "vgg16", "title": "VGG-16 (configuration D)",
     "description": "Thirteen 3×3 convolutions with padding 1 in five blocks, each closed by a 2×2 max pool; "
                    "conv5_3 sees 196×196 pixels, pool5 212×212. 138,357,544 parameters.",
     "source": "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, "
               "ICLR 2015; torchvision.models.vgg16.",
     "input_shape": [3, 224, 224], "layers": _vgg16()},
    {"id": "resnet18-stem", "title": "ResNet-18 stem",
     "description": "The stem every ResNet shares: a 7×7 convolution with stride 2 and padding 3 (no bias, "
                    "batch norm follows), then a 3×3 max pool with stride 2 and padding 1: 224 → 112 → 56.",
     "source": "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016; "
               "torchvision.models.resnet18.",
     "input_shape": [3, 224, 224],
     "layers": [_conv("conv1", 64, 7, stride=2, padding=3, bias=False), _op("batch_norm2d", "bn1"),
                _op("relu", "relu"), _op("max_pool2d", "maxpool", kernel_size=3, stride=2, padding=1)]},
    {"id": "dilated-1-2-4", "title": "Dilated 3×3 stack, dilation 1, 2, 4",
     "description": "Three 3×3 convolutions with dilation 1, 2 and 4 (padding = dilation keeps the size): the "
                    "receptive field grows 3, 7, 15 while each layer keeps the same 10 parameters.",
     "source": "Yu & Koltun, Multi-Scale Context Aggregation by Dilated Convolutions, ICLR 2016, figure 1; "
               "course notes 000 and 002.",
     "input_shape": [1, 32, 32],
     "layers": [_conv(f"conv{i}", 1, 3, padding=d, dilation=d) for i, d in enumerate((1, 2, 4), start=1)]},
    {"id": "lecture-two-convs", "title": "The lecture's two convolutions on a 5-pixel input",
     "description": "Two 3×3 convolutions with padding 1 and stride 2 on a 5×5 input: n = 5, 3, 2; "
                    "j = 1, 2, 4; r = 1, 3, 7; start = 0.5 throughout.",
     "source": "Course notes 003 (AMMI review, receptive field), after Dang Ha The Hien, A guide to receptive "
               "field arithmetic for Convolutional Neural Networks, 2017.",
     "input_shape": [1, 5, 5],
     "layers": [_conv("conv1", 1, 3, stride=2, padding=1), _conv("conv2", 1, 3, stride=2, padding=1)]},
    {"id": "encoder-decoder", "title": "A small encoder-decoder (SegNet / FCN style)",
     "description": "Two conv + 2×2 max-pool stages down to 8×8, then back up: max-unpooling with the indices of "
                    "pool2 (SegNet) and a 4×4 transposed convolution with stride 2 and padding 1 (FCN's learned "
                    "upsampling) to the input's 32×32, and a 1×1 convolution scoring 2 classes per pixel.",
     "source": "Badrinarayanan, Kendall & Cipolla, SegNet, TPAMI 2017; Long, Shelhamer & Darrell, Fully "
               "Convolutional Networks for Semantic Segmentation, CVPR 2015; course notes 002 (unpooling, "
               "transposed convolution).",
     "input_shape": [3, 32, 32],
     "layers": [_conv("enc1", 16, 3, padding=1), _op("relu", "relu1"),
                _op("max_pool2d", "pool1", kernel_size=2, stride=2),
                _conv("enc2", 32, 3, padding=1), _op("relu", "relu2"),
                _op("max_pool2d", "pool2", kernel_size=2, stride=2),
                _conv("bottleneck", 32, 3, padding=1), _op("relu", "relu3"),
                _op("max_unpool2d", "unpool2", kernel_size=2, stride=2),
                _conv("dec2", 16, 3, padding=1), _op("relu", "relu4"),
                {"op": "conv_transpose2d", "name": "up1", "out_channels": 8, "kernel_size": 4, "stride": 2,
                 "padding": 1},
                _op("relu", "relu5"), _conv("score", 2, 1)]},
]
for _preset in _PRESETS:
    _preset["input_size"] = _preset["input_shape"][1:]
PRESET_IDS: tuple[str, ...] = tuple(p["id"] for p in _PRESETS)


def list_presets() -> list[dict[str, Any]]:
    return copy.deepcopy(_PRESETS)


def get_preset(preset_id: str) -> dict[str, Any]:
    for preset in _PRESETS:
        if preset["id"] == preset_id:
            return copy.deepcopy(preset)
    hint = did_you_mean(preset_id, PRESET_IDS, sentence=True)
    raise NotFound(f"There is no preset {preset_id!r}.{hint} The presets are: {', '.join(PRESET_IDS)}.",
                   ["preset_id"])
