"""The one table of layer kinds: each kind's parameters (name, type, default, range or choices, meaning)
and a one-line meaning. `LAYER_KEYS` (what validation accepts) and `GET /api/v1/layers` (what is
published) both come from here, so they cannot disagree.

Every layer also takes `name` (unique in the network) and `input` (the layer it reads: a name, or
"input" for the network's input; default the layer before). The merges `add` and `concat` take
`inputs` (two or more names) in place of `input`.
"""
from __future__ import annotations

from typing import Any

from ..shapes import INTERPOLATE_MODES, PADDING_MODES

_INT_OR_PAIR = "int or [h, w]"
_PAD = "int, [h, w], 'valid' or 'same'"
_MAX = 1_000_000


def _p(name: str, type_: str, default: Any, meaning: str, *, range_: list[Any] | None = None,
       choices: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_, "default": default, "meaning": meaning}
    if range_ is not None:
        out["range"] = range_
    if choices is not None:
        out["choices"] = choices
    return out


def _conv_common() -> list[dict[str, Any]]:
    return [
        _p("in_channels", "int", None, "input channels; inferred from the layer before (must agree if given)",
           range_=[1, _MAX]),
        _p("out_channels", "int", None, "output channels (required)", range_=[1, _MAX]),
        _p("kernel_size", _INT_OR_PAIR, None, "window size (required)", range_=[1, _MAX]),
        _p("stride", _INT_OR_PAIR, 1, "step between windows", range_=[1, _MAX]),
        _p("dilation", _INT_OR_PAIR, 1, "spacing between kernel taps", range_=[1, _MAX]),
        _p("groups", "int", 1, "splits channels into independent groups; divides both channel counts",
           range_=[1, _MAX]),
        _p("bias", "bool", True, "adds one learned constant per output channel"),
    ]


_INPLACE = _p("inplace", "bool", False, "overwrite the input (no effect on shapes)")
_POOL = [
    _p("kernel_size", _INT_OR_PAIR, None, "window size (required)", range_=[1, _MAX]),
    _p("stride", _INT_OR_PAIR, None, "step between windows; default kernel_size", range_=[1, _MAX]),
    _p("padding", _INT_OR_PAIR, 0, "implicit padding on each side, at most kernel_size // 2", range_=[0, _MAX]),
]

LAYER_TABLE: dict[str, dict[str, Any]] = {
    "conv2d": {"meaning": "2-D cross-correlation with learned kernels (torch.nn.Conv2d)", "params": [
        *_conv_common(),
        _p("padding", _PAD, 0, "zeros (or padding_mode) added on each side", range_=[0, _MAX]),
        _p("padding_mode", "string", "zeros", "how padding is filled",
           choices=list(PADDING_MODES))]},
    "conv_transpose2d": {"meaning": "transposed convolution: each input cell scatters a kernel "
                                    "(torch.nn.ConvTranspose2d)", "params": [
        *_conv_common(),
        _p("padding", _INT_OR_PAIR, 0, "removes this many cells from each side of the output",
           range_=[0, _MAX]),
        _p("output_padding", _INT_OR_PAIR, 0, "extra cells at the end, below stride or dilation", range_=[0, _MAX])]},
    "max_pool2d": {"meaning": "the largest value of each window (torch.nn.MaxPool2d)", "params": [
        *_POOL,
        _p("dilation", _INT_OR_PAIR, 1, "spacing between window cells", range_=[1, _MAX]),
        _p("ceil_mode", "bool", False, "round the output size up (a last window may not start in the padding)"),
        _p("return_indices", "bool", False, "also return where each maximum was (for max_unpool2d)")]},
    "avg_pool2d": {"meaning": "the mean of each window (torch.nn.AvgPool2d)", "params": [
        *_POOL,
        _p("ceil_mode", "bool", False, "round the output size up (a last window may not start in the padding)"),
        _p("count_include_pad", "bool", True, "count padding cells in the divisor"),
        _p("divisor_override", "int or null", None, "divide every window by this instead", range_=[1, 2**31 - 1])]},
    "max_unpool2d": {"meaning": "puts each value back where the latest earlier max_pool2d found it "
                                "(torch.nn.MaxUnpool2d)", "params": [
        *_POOL,
        _p("output_size", "[h, w] or null", None, "the size to restore, strictly within one stride of "
                                                  "(n−1)·s − 2p + k", range_=[1, _MAX])]},
    "interpolate": {"meaning": "resamples the map to a size or by a factor (torch.nn.functional.interpolate)",
                    "params": [
        _p("size", _INT_OR_PAIR + " or null", None, "output size; give size or scale_factor", range_=[1, _MAX]),
        _p("scale_factor", "number or [h, w] or null", None, "output = ⌊input × factor⌋"),
        _p("mode", "string", "nearest", "how output values are computed",
           choices=list(INTERPOLATE_MODES[2])),
        _p("align_corners", "bool or null", None, "bilinear/bicubic: corner pixels' centres align")]},
    "relu": {"meaning": "max(0, x), element by element", "params": [_INPLACE]},
    "relu6": {"meaning": "min(max(0, x), 6), element by element", "params": [_INPLACE]},
    "leaky_relu": {"meaning": "x for x ≥ 0, negative_slope·x below, element by element", "params": [
        _p("negative_slope", "number", 0.01, "the slope for negative inputs", range_=[-1e6, 1e6]), _INPLACE]},
    "sigmoid": {"meaning": "1 / (1 + e^−x), element by element", "params": []},
    "tanh": {"meaning": "tanh(x), element by element", "params": []},
    "batch_norm2d": {"meaning": "normalises each channel, then scales by γ and shifts by β "
                                "(torch.nn.BatchNorm2d)", "params": [
        _p("num_features", "int", None, "channels; inferred from the layer before (must agree if given)",
           range_=[1, _MAX]),
        _p("eps", "number", 1e-5, "added to the variance", range_=[1e-300, 1.0]),
        _p("momentum", "number or null", 0.1, "running-statistics update rate", range_=[0.0, 1.0]),
        _p("affine", "bool", True, "learn γ and β (2C parameters)"),
        _p("track_running_stats", "bool", True, "keep running mean and variance (buffers, not parameters)")]},
    "dropout": {"meaning": "zeroes values at random while training; unchanged shape", "params": [
        _p("p", "number", 0.5, "the probability of zeroing", range_=[0.0, 1.0]), _INPLACE]},
    "flatten": {"meaning": "joins axes into one (torch.nn.Flatten; the batch axis is 0)", "params": [
        _p("start_dim", "int", 1, "the first axis joined", range_=[-4, 3]),
        _p("end_dim", "int", -1, "the last axis joined", range_=[-4, 3])]},
    "linear": {"meaning": "a learned affine map of the last axis (torch.nn.Linear)", "params": [
        _p("in_features", "int", None, "inferred from the layer before (must agree if given)", range_=[1, _MAX]),
        _p("out_features", "int", None, "output features (required)", range_=[1, _MAX]),
        _p("bias", "bool", True, "adds one learned constant per output")]},
    "adaptive_avg_pool2d": {"meaning": "averages into a fixed output size (torch.nn.AdaptiveAvgPool2d)",
                            "params": [
        _p("output_size", _INT_OR_PAIR, None, "the output size (required); null in a pair keeps that axis",
           range_=[1, _MAX])]},
    "add": {"meaning": "adds its inputs element by element (torch.add); their shapes must be equal",
            "params": []},
    "concat": {"meaning": "joins its inputs along channels (torch.cat, dim 1); H and W must be equal",
               "params": []},
}
MERGE_OPS = ("add", "concat")
COMMON_PARAMS = [
    _p("name", "string", None, "unique in the network; default the op's prefix and a count, e.g. conv1"),
    _p("input", "string", None, "the layer this one reads, or \"input\"; default the layer before"),
]
MERGE_PARAMS = [
    COMMON_PARAMS[0],
    _p("inputs", "list of strings", None, "the layers merged, two or more (required)"),
]
LAYER_KEYS: dict[str, frozenset[str]] = {
    op: frozenset({"op"} | {p["name"] for p in kind["params"]}
                  | {p["name"] for p in (MERGE_PARAMS if op in MERGE_OPS else COMMON_PARAMS)})
    for op, kind in LAYER_TABLE.items()}
STACK_OPS: tuple[str, ...] = tuple(LAYER_TABLE)


def published() -> list[dict[str, Any]]:
    """The GET /api/v1/layers body: one entry per kind, its own parameters then the common ones."""
    return [{"op": op, "meaning": kind["meaning"], "merge": op in MERGE_OPS,
             "params": [*kind["params"], *(MERGE_PARAMS if op in MERGE_OPS else COMMON_PARAMS)]}
            for op, kind in LAYER_TABLE.items()]
