"""Request and response models: the written v1 contract (see API.md).

Types here are strict (no "3" for 3, no true for 1); the arithmetic rules
(sizes, groups, output_padding, ...) are checked in core/shapes.py, which
writes the teaching sentence.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from .core.shapes import MAX_INT


def documented(schema: dict[str, Any]) -> Any:
    """Accept any JSON value here and document `schema`: core/shapes.py checks the value and writes the
    sentence (e.g. "stride must be at least 1 on every axis, but the width value is 0")."""
    return Annotated[Any, WithJsonSchema(schema)]


def _enum(*values: str) -> Any:
    return documented({"type": "string", "enum": list(values)})


# Sizes, strides, paddings, dilations, groups: torch takes them as 32-bit ints (core/shapes.py MAX_INT).
_INT = {"type": "integer", "maximum": MAX_INT}
Tensor = documented({"type": "array", "items": {}, "description":
                      "A tensor as nested arrays of numbers: N×C×H×W (N×C×L for 1-D ops)."})
IntOrList = documented({"anyOf": [_INT, {"type": "array", "items": _INT, "minItems": 1, "maxItems": 2}]})
StrictInt = documented(_INT)
StrictBool = documented({"type": "boolean"})


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorResponse(BaseModel):
    ok: Literal[False]
    status: int
    error: str = Field(description="One sentence that says which constraint failed, with the numbers.")
    errors: list[ErrorItem]


class Health(BaseModel):
    ok: Literal[True]
    version: str
    torch: str
    device: str
    compute: dict[str, int] = Field(description="This process's compute gate: running, waiting, capacity, "
                                                "max_queue, and cancelled (streams stopped by their client).")
    images: dict[str, int] = Field(description="This process's in-memory image store: images (with resized "
                                               "copies), bytes, capacity_bytes, hits, misses, evictions.")


class _OpBase(StrictModel):
    input: Tensor
    grad_output: Tensor = Field(None, description="Shaped like the output: asks for grad_input "
                                       "(and grad_weight, grad_bias where the op has them), by autograd.")
    extras: documented({"type": "array", "items": {"type": "string", "enum": ["trace", "im2col", "toeplitz",
                                                                       "backward_trace"]}}) = \
        Field(default_factory=list, description="trace, im2col (conv), toeplitz (small inputs), backward_trace "
                                                "(conv and pooling, with grad_output).")
    dtype: _enum("float64", "float32") = "float64"
    device: _enum("cpu", "cuda") = "cpu"


class _ConvBase(_OpBase):
    weight: Tensor
    bias: Tensor = None
    stride: IntOrList = 1
    dilation: IntOrList = 1
    groups: StrictInt = 1


class ConvRequest(_ConvBase):
    """conv1d / conv2d (cross-correlation, as torch): weight is C_out × C_in/groups × kernel."""

    padding: documented({"anyOf": [_INT, {"type": "array", "items": _INT}, {"type": "string", "enum": ["same", "valid"]}]}) = 0
    padding_mode: _enum("zeros", "reflect", "replicate", "circular") = "zeros"


class ConvTransposeRequest(_ConvBase):
    """conv_transpose1d / conv_transpose2d: weight is C_in × C_out/groups × kernel."""

    padding: IntOrList = 0
    output_padding: IntOrList = 0


class _PoolBase(_OpBase):
    kernel_size: IntOrList
    stride: IntOrList = Field(None, description="Defaults to kernel_size.")
    padding: IntOrList = 0
    ceil_mode: StrictBool = False


class MaxPoolRequest(_PoolBase):
    dilation: IntOrList = 1


class AvgPoolRequest(_PoolBase):
    count_include_pad: StrictBool = True
    divisor_override: StrictInt = None


class MaxUnpoolRequest(_OpBase):
    indices: Tensor = Field(description="The indices max_pool returned (flat positions in each output plane).")
    kernel_size: IntOrList
    stride: IntOrList = None
    padding: IntOrList = 0
    output_size: documented({"type": "array", "items": _INT}) = Field(
        None, description="Needed when the pooled input had odd leftovers.")


class InterpolateRequest(_OpBase):
    size: IntOrList = None
    scale_factor: documented({"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]}) = None
    mode: _enum("nearest", "nearest-exact", "linear", "bilinear", "bicubic") = "nearest"
    align_corners: StrictBool = None


OP_REQUESTS: dict[str, type[_OpBase]] = {
    "conv1d": ConvRequest, "conv2d": ConvRequest,
    "conv_transpose1d": ConvTransposeRequest, "conv_transpose2d": ConvTransposeRequest,
    "max_pool1d": MaxPoolRequest, "max_pool2d": MaxPoolRequest,
    "avg_pool1d": AvgPoolRequest, "avg_pool2d": AvgPoolRequest,
    "max_unpool1d": MaxUnpoolRequest, "max_unpool2d": MaxUnpoolRequest,
    "interpolate": InterpolateRequest,
}


class OpResponse(BaseModel):
    ok: Literal[True]
    op: str
    output: list[Any]
    shape: list[int]
    indices: list[Any] | None = None
    grad_input: list[Any] | None = None
    grad_weight: list[Any] | None = None
    grad_bias: list[Any] | None = None
    im2col: list[Any] | None = Field(None, description="N × output positions × (C·kH·kW), rows row-major.")
    toeplitz: list[Any] | None = Field(None, description="C with output.flatten() = C @ input.flatten() (no bias).")
    trace: dict[str, Any] | None = Field(None, description="Per output cell: reads, taps, padding, inputs, "
                                         "weights, terms; what the animation draws.")
    backward_trace: dict[str, Any] | None = Field(None, description="Per input cell, weight tap and bias: the "
                                                  "value autograd gives and every term of its sum.")
