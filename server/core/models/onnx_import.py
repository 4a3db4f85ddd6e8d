"""A student's ONNX model as a network of registry layers, with its initializers as the layers' weights.

The file is data: it is parsed by the `onnx` library's protobuf reader, nothing in it is executed, and
nothing is unpickled (a pickle or a PyTorch checkpoint is refused with a sentence that says how to
export instead). External-data tensors are refused too: the server never opens a path a file names.

Translated operators (opset 9 and later, as `torch.onnx.export` writes them):
    Conv, ConvTranspose                      conv2d / conv_transpose2d (weight, bias)
    MaxPool, AveragePool, GlobalAveragePool  max_pool2d / avg_pool2d / adaptive_avg_pool2d(1)
    MaxUnpool (indices of a MaxPool)         max_unpool2d: it must be the pool the server's rule pairs it with
                                             (the latest unpaired max_pool2d whose shapes mirror it), else 422
    BatchNormalization                       batch_norm2d (eval: the running statistics of the file)
    Relu, Clip(0, 6), LeakyRelu, Sigmoid, Tanh   relu, relu6, leaky_relu, sigmoid, tanh
    Add, Concat (axis 1)                     add, concat (the network's merges)
    Resize, Upsample (constant scales)       interpolate (nearest or bilinear)
    Flatten, Reshape to [N, -1]              flatten
    Gemm, MatMul (constant weight)           linear
    Dropout, Identity                        dropped: the next layer reads their input
Names: torch's exporter names a node after its module's scope (`/layer1/layer1.0/conv1/Conv`); the
layer is named with the module path (`layer1.0.conv1`), a functional op after its scope and kind
(`layer1.0.add`); repeats get `_1`, `_2`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import InvalidRequest, TooLarge, Unsupported

MAX_NODES = 4000
MAX_WEIGHT_VALUES = 160_000_000  # float32 values over all initializers: VGG-16's 138 M fits
SUPPORTED = ("Conv", "ConvTranspose", "MaxPool", "MaxUnpool", "AveragePool", "GlobalAveragePool", "BatchNormalization",
             "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "Add", "Concat", "Resize", "Upsample", "Flatten",
             "Reshape", "Gemm", "MatMul", "Dropout", "Identity", "Constant")
_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
_FUNCTIONAL = {"Add", "Concat", "Flatten", "Reshape", "MatMul"}


@dataclass
class Translated:
    """The network body (/shapes form), the input it expects, and each weighted layer's tensors."""

    input_shape: list[int]
    layers: list[dict[str, Any]]
    weights: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def network(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "input_size": list(self.input_shape[1:]),
                "layers": [dict(layer) for layer in self.layers]}


def translate(data: bytes) -> Translated:
    return _Translator(_parse(data)).run()


def _parse(data: bytes) -> Any:
    if data[:1] == b"\x80" or data[:2] == b"PK":
        raise Unsupported("This file is a pickle or a zip archive (a PyTorch checkpoint), which the server "
                               "never opens. Export the model to ONNX instead: torch.onnx.export(model, "
                               "example_input, 'model.onnx', dynamo=False).", ["file"])
    import onnx
    from google.protobuf.message import DecodeError
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise Unsupported(f"The file cannot be read as an ONNX model ({type(err).__name__}); it may be "
                               "truncated or another kind of file.", ["file"]) from None
    graph = model.graph
    if not graph.node:
        raise Unsupported("The file holds no ONNX graph (no nodes): is it an ONNX model?", ["file"])
    if len(graph.node) > MAX_NODES:
        raise TooLarge(f"The model has {len(graph.node):,} nodes, more than this server's cap of {MAX_NODES:,}.",
                       ["file"])
    total = 0
    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise InvalidRequest(f"Initializer {tensor.name!r} keeps its data in an external file, which the "
                                 "server does not open; export with the weights inside the model.", ["file"])
        total += int(np.prod(tensor.dims, dtype=np.int64)) if tensor.dims else 1
    if total > MAX_WEIGHT_VALUES:
        raise TooLarge(f"The model's weights hold {total:,} values, more than this server's cap of "
                       f"{MAX_WEIGHT_VALUES:,}.", ["file"])
    return graph


class _Translator:
    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper
        self.graph = graph
        self.consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.source: dict[str, str] = {}  # tensor name → the layer that produces it
        self.layers: list[dict[str, Any]] = []
        self.weights: dict[str, dict[str, np.ndarray]] = {}
        self.names: set[str] = {"input"}
        self.notes: list[str] = []
        self.pool_of: dict[str, str] = {}  # a MaxPool's indices tensor → that pool's layer
        self.unpools: dict[str, tuple[str, str]] = {}  # unpool layer → (its pool layer, the node's name)

    def run(self) -> Translated:
        input_shape = self._input()
        for node in self.graph.node:
            self._node(node)
        if self.unpools:
            self._check_pairs(input_shape)
        outputs = [o.name for o in self.graph.output]
        if outputs and self.layers and self.source.get(outputs[0]) != self.layers[-1]["name"]:
            self.notes.append(f"The model's output is {self.source.get(outputs[0], outputs[0])!r}; layers after "
                              "it are shown too.")
        if not self.layers:
            raise InvalidRequest("The model has no layer the server can show (only constants).", ["file"])
        return Translated(input_shape, self.layers, self.weights, self.notes)

    def _input(self) -> list[int]:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise InvalidRequest(f"The model takes {len(inputs)} inputs; the server shows models of one image "
                                 "input (N×C×H×W).", ["file"])
        dims = inputs[0].type.tensor_type.shape.dim
        if len(dims) != 4:
            raise InvalidRequest(f"The model's input has rank {len(dims)}; an image model takes N×C×H×W.",
                                 ["file"])
        sizes = [d.dim_value if d.HasField("dim_value") else 0 for d in dims]
        if sizes[1] <= 0:
            raise InvalidRequest("The model's input has no fixed channel count; export with a fixed C.", ["file"])
        shape = [sizes[1], sizes[2] or 224, sizes[3] or 224]
        if not (sizes[2] and sizes[3]):
            self.notes.append(f"The input's height and width are not fixed in the file; {shape[1]}×{shape[2]} "
                              "is assumed.")
        self.source[inputs[0].name] = "input"
        return shape

    # --- one node ------------------------------------------------------------------------------------
    def _node(self, node: Any) -> None:
        op = node.op_type
        if op == "Constant":
            from onnx import helper, numpy_helper
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is not None:
                self.consts[node.output[0]] = numpy_helper.to_array(helper.get_attribute_value(value))
            return
        if op not in SUPPORTED:
            raise InvalidRequest(f"Node {node.name or node.output[0]!r} is a {op}, which the server cannot "
                                 f"translate. Supported operators: {', '.join(s for s in SUPPORTED if s != 'Constant')}.",
                                 ["file"])
        if op in ("Dropout", "Identity"):
            if node.input[0] in self.consts:  # an exporter's alias of a shared weight
                self.consts[node.output[0]] = self.consts[node.input[0]]
            else:
                self.source[node.output[0]] = self._read(node, 0)
            return
        layer = getattr(self, f"_{op.lower()}")(node, _attrs(node))
        if layer is None:
            return
        weights = layer.pop("_weights", None)
        layer["name"] = self._name(node)
        tensor_inputs = layer.pop("_inputs", None)
        if tensor_inputs is None:
            layer["input"] = self._read(node, 0)
        else:
            layer["inputs"] = tensor_inputs
        if weights:
            self.weights[layer["name"]] = {k: v.astype(np.float32) for k, v in weights.items()}
        self.layers.append(layer)
        self.source[node.output[0]] = layer["name"]
        if op == "MaxPool" and len(node.output) > 1 and node.output[1]:
            self.pool_of[node.output[1]] = layer["name"]
        if op == "MaxUnpool":
            self.unpools[layer["name"]] = (self.pool_of[node.input[1]], node.name or node.output[0])

    def _check_pairs(self, input_shape: list[int]) -> None:
        """Each unpool reads the indices of the pool the pipeline pairs it with (layers.forward.unpool_pairs)."""
        from ..layers import walk
        from ..layers.forward import unpool_pairs
        stack = walk(list(input_shape), self.layers)
        pairs = unpool_pairs(stack)
        for layer in stack:
            if layer.name in self.unpools:
                pool, node = self.unpools[layer.name]
                paired = pairs.get(layer.index)
                got = stack[paired].name if paired is not None else None
                if got != pool:
                    raise InvalidRequest(f"Node {node!r} (MaxUnpool) reads the indices of {pool!r}, but the server "
                                         "pairs an unpool with the latest unpaired max pool whose shapes mirror it "
                                         f"({got or 'none here'}); nest the pool/unpool pairs as SegNet does.",
                                         ["file"])

    def _read(self, node: Any, i: int) -> str:
        name = node.input[i]
        if name not in self.source:
            raise InvalidRequest(f"Node {node.name!r} ({node.op_type}) reads {name!r}, which no translated "
                                 "layer produces (a constant where a feature map is expected).", ["file"])
        return self.source[name]

    def _const(self, node: Any, i: int, what: str) -> np.ndarray:
        if i >= len(node.input) or node.input[i] not in self.consts:
            raise InvalidRequest(f"Node {node.name!r} ({node.op_type}): its {what} must be a constant of the "
                                 "file (an initializer), not computed at run time.", ["file"])
        return self.consts[node.input[i]]

    def _name(self, node: Any) -> str:
        path = ""
        for seg in [s for s in node.name.split("/") if s][:-1]:
            path = seg if path and seg.startswith(path + ".") else (f"{path}.{seg}" if path else seg)
        kind = node.op_type.lower()
        base = (f"{path}.{kind}" if path else kind) if node.op_type in _FUNCTIONAL or not path else path
        base = re.sub(r"[^A-Za-z0-9_.]", "_", base) or kind
        name, k = base, 0
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    # --- the operators --------------------------------------------------------------------------------
    def _spatial(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise InvalidRequest(f"Node {node.name!r} ({node.op_type}) uses auto_pad; export with explicit pads.",
                                 ["file"])
        pads = list(a.get("pads", [0, 0, 0, 0]))
        if len(pads) != 4 or pads[:2] != pads[2:]:
            raise InvalidRequest(f"Node {node.name!r} ({node.op_type}) pads {pads} unevenly (top, left, bottom, "
                                 "right); torch's layers pad both sides equally.", ["file"])
        out: dict[str, Any] = {"padding": pads[:2]}
        for onnx_name, torch_name in (("strides", "stride"), ("dilations", "dilation")):
            if onnx_name in a:
                out[torch_name] = list(a[onnx_name])
        return out

    def _conv(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        weight = self._const(node, 1, "weight")
        layer = {"op": "conv2d", "out_channels": int(weight.shape[0]), "kernel_size": list(weight.shape[2:]),
                 "groups": int(a.get("group", 1)), **self._spatial(node, a)}
        return self._with_weights(node, layer, weight)

    def _convtranspose(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        weight = self._const(node, 1, "weight")
        groups = int(a.get("group", 1))
        layer = {"op": "conv_transpose2d", "out_channels": int(weight.shape[1]) * groups,
                 "kernel_size": list(weight.shape[2:]), "groups": groups, **self._spatial(node, a)}
        if "output_padding" in a:
            layer["output_padding"] = list(a["output_padding"])
        return self._with_weights(node, layer, weight)

    def _with_weights(self, node: Any, layer: dict[str, Any], weight: np.ndarray) -> dict[str, Any]:
        weights = {"weight": weight}
        if len(node.input) > 2 and node.input[2]:
            weights["bias"] = self._const(node, 2, "bias")
        else:
            layer["bias"] = False
        layer["_weights"] = weights
        return layer

    def _maxpool(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        if len(node.output) > 1 and node.output[1] and int(a.get("storage_order", 0)) != 0:
            raise InvalidRequest(f"Node {node.name!r} (MaxPool) numbers its indices column-major (storage_order "
                                 "1); torch's are row-major.", ["file"])
        return {"op": "max_pool2d", "kernel_size": list(a["kernel_shape"]), "ceil_mode": bool(a.get("ceil_mode", 0)),
                "stride": list(a.get("strides", a["kernel_shape"])), **self._spatial(node, a)}

    def _maxunpool(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        if len(node.input) < 2 or node.input[1] not in self.pool_of:
            raise InvalidRequest(f"Node {node.name!r} (MaxUnpool) takes indices that no MaxPool's second output "
                                 "gives; the server unpools with the indices of an earlier max pool.", ["file"])
        layer: dict[str, Any] = {"op": "max_unpool2d", "kernel_size": list(a["kernel_shape"]),
                                 "stride": list(a.get("strides", a["kernel_shape"])), **self._spatial(node, a)}
        if len(node.input) > 2 and node.input[2]:
            shape = self._const(node, 2, "output_shape").reshape(-1).tolist()
            layer["output_size"] = [int(v) for v in shape[-2:]]
        return layer

    def _averagepool(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        # ONNX's default excludes the padding from the divisor; torch's includes it: say which, always.
        return {"op": "avg_pool2d", "kernel_size": list(a["kernel_shape"]), "ceil_mode": bool(a.get("ceil_mode", 0)),
                "count_include_pad": bool(a.get("count_include_pad", 0)),
                "stride": list(a.get("strides", a["kernel_shape"])), **self._spatial(node, a)}

    def _globalaveragepool(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        return {"op": "adaptive_avg_pool2d", "output_size": [1, 1]}

    def _batchnormalization(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        tensors = [self._const(node, i, what) for i, what in
                   ((1, "scale"), (2, "bias"), (3, "running mean"), (4, "running variance"))]
        return {"op": "batch_norm2d", "eps": float(a.get("epsilon", 1e-5)),
                "_weights": dict(zip(("weight", "bias", "running_mean", "running_var"), tensors))}

    def _relu(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        return {"op": _ACTIVATIONS[node.op_type]}

    _sigmoid = _tanh = _relu

    def _leakyrelu(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        return {"op": "leaky_relu", "negative_slope": float(a.get("alpha", 0.01))}

    def _clip(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        low = float(self._const(node, 1, "min")) if len(node.input) > 1 and node.input[1] else a.get("min")
        high = float(self._const(node, 2, "max")) if len(node.input) > 2 and node.input[2] else a.get("max")
        if low == 0.0 and high == 6.0:
            return {"op": "relu6"}
        if low == 0.0 and high is None:
            return {"op": "relu"}
        raise InvalidRequest(f"Node {node.name!r} is a Clip to [{low}, {high}]; the server shows Clip(0, 6) "
                             "(relu6) and Clip(0) (relu).", ["file"])

    def _add(self, node: Any, a: dict[str, Any]) -> dict[str, Any] | None:
        if any(i in self.consts for i in node.input):  # MatMul + Add: the bias of the linear layer before
            bias = next(self.consts[i] for i in node.input if i in self.consts)
            other = next(i for i in node.input if i not in self.consts)
            last = self.layers[-1] if self.layers else None
            if last and last["op"] == "linear" and self.source.get(other) == last["name"] and "bias" not in \
                    self.weights[last["name"]]:
                self.weights[last["name"]]["bias"] = bias.astype(np.float32).reshape(-1)
                last.pop("bias", None)
                self.source[node.output[0]] = last["name"]
                return None
            raise InvalidRequest(f"Node {node.name!r} adds a constant to a feature map; the server translates "
                                 "Add of two feature maps (a skip connection) or a linear layer's bias.", ["file"])
        return {"op": "add", "_inputs": [self._read(node, i) for i in range(len(node.input))]}

    def _concat(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        if int(a.get("axis", 1)) != 1:
            raise InvalidRequest(f"Node {node.name!r} concatenates on axis {a.get('axis')}; the server's concat "
                                 "joins channels (axis 1).", ["file"])
        return {"op": "concat", "_inputs": [self._read(node, i) for i in range(len(node.input))]}

    def _resize(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        scales = next((self.consts[i] for i in node.input[1:] if i in self.consts and self.consts[i].size == 4
                       and self.consts[i].dtype.kind == "f"), None)
        if scales is None:
            raise InvalidRequest(f"Node {node.name!r} ({node.op_type}) resizes to a computed size; the server "
                                 "translates constant scales (nn.Upsample(scale_factor=...)).", ["file"])
        mode = a.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        layer: dict[str, Any] = {"op": "interpolate", "scale_factor": [float(s) for s in scales[2:]],
                                 "mode": "nearest" if mode == "nearest" else "bilinear"}
        if mode != "nearest":
            ctm = a.get("coordinate_transformation_mode", b"half_pixel")
            layer["align_corners"] = (ctm.decode() if isinstance(ctm, bytes) else ctm) == "align_corners"
        return layer

    _upsample = _resize

    def _flatten(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        if int(a.get("axis", 1)) != 1:
            raise InvalidRequest(f"Node {node.name!r} flattens from axis {a.get('axis')}; the server's flatten "
                                 "keeps the batch axis (axis 1).", ["file"])
        return {"op": "flatten"}

    def _reshape(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        shape = self._const(node, 1, "shape").reshape(-1).tolist()
        if len(shape) != 2 or shape[1] != -1 and shape[0] not in (0, 1, -1):
            raise InvalidRequest(f"Node {node.name!r} reshapes to {shape}; the server translates a flatten "
                                 "to [N, -1].", ["file"])
        return {"op": "flatten"}

    def _gemm(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        if a.get("transA", 0):
            raise InvalidRequest(f"Node {node.name!r} is a Gemm with transA; export nn.Linear.", ["file"])
        weight = self._const(node, 1, "weight")
        weight = weight if a.get("transB", 0) else weight.T
        weight = weight * float(a.get("alpha", 1.0))
        layer = {"op": "linear", "out_features": int(weight.shape[0])}
        weights = {"weight": weight}
        if len(node.input) > 2 and node.input[2]:
            weights["bias"] = self._const(node, 2, "bias").reshape(-1) * float(a.get("beta", 1.0))
        else:
            layer["bias"] = False
        layer["_weights"] = weights
        return layer

    def _matmul(self, node: Any, a: dict[str, Any]) -> dict[str, Any]:
        weight = self._const(node, 1, "weight").T
        return {"op": "linear", "out_features": int(weight.shape[0]), "bias": False, "_weights": {"weight": weight}}


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}
