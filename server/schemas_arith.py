"""Request and response models of the arithmetic API: /shapes, /receptive-field, /presets, /exercises.

Same style as schemas.py: bodies forbid unknown fields; values arrive as JSON and core/ checks them and
writes the teaching sentence ("Layer 3 (max_pool2d): ..."). A preset works unchanged as the body of
/shapes and /receptive-field, so both accept its descriptive fields (id, title, description, source).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .core.layers import STACK_OPS
from .schemas import documented, StrictModel

_INT = {"type": "integer"}
_NUM = {"type": "number"}
_PAIR = {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2}
Layers = documented({"type": "array", "description": "torch.nn constructor arguments, in_channels inferred; any "
                                                     "layer may name its input, add / concat merge (GET /layers).",
                      "items": {"type": "object", "required": ["op"], "additionalProperties": True, "properties": {
                          "op": {"type": "string", "enum": list(STACK_OPS)},
                          "name": {"type": "string"}, "input": {"type": "string"},
                          "inputs": {"type": "array", "items": {"type": "string"}}}}})
InputShape = documented({"type": "array", "items": _INT, "minItems": 3, "maxItems": 3,
                          "description": "[C, H, W], no batch axis."})
InputSize = documented({"anyOf": [_INT, {"type": "array", "items": _INT, "minItems": 2, "maxItems": 2}],
                         "description": "[H, W] of the input image."})
Text = documented({"type": "string"})


class _StackBody(StrictModel):
    layers: Layers
    id: Text = Field(None, description="Ignored: lets a preset be posted unchanged.")
    title: Text = Field(None, description="Ignored, as id.")
    description: Text = Field(None, description="Ignored, as id.")
    source: Text = Field(None, description="Ignored, as id.")


class ShapesRequest(_StackBody):
    input_shape: InputShape
    input_size: InputSize = Field(None, description="Optional; must agree with input_shape.")


class ShapeLayer(BaseModel):
    name: str
    op: str
    inputs: list[str] = Field(description="The names it reads, resolved (\"input\": the network's input).")
    input_shape: list[int]
    output_shape: list[int] = Field(description="[C, H, W], or [F] after flatten.")
    params: int = Field(description="Learnable parameters: G times fewer weights with groups; bias counted; "
                                    "batch_norm2d 2C.")
    macs: int = Field(description="Multiply-accumulates, batch 1, bias not counted; conv: "
                                  "H_out·W_out·C_out·(C_in/G)·kH·kW; pooling, relu, ...: 0.")
    formula: str = Field(description="The size arithmetic with the numbers filled in.")
    params_formula: str


class ShapesResponse(BaseModel):
    ok: Literal[True]
    input_shape: list[int]
    layers: list[ShapeLayer]
    output_shape: list[int]
    total_params: int
    total_macs: int


class ReceptiveFieldRequest(_StackBody):
    input_size: InputSize = Field(None, description="[H, W]; or give input_shape.")
    input_shape: InputShape = Field(None, description="[C, H, W]; its H and W are the input size.")
    unit: documented({"type": "object", "properties": {
        "layer": {"anyOf": [_INT, {"type": "string"}]}, "y": _INT, "x": _INT, "channel": _INT}}) = Field(
        None, description="layer: an index into the response's layers (0 = the input) or a layer name; "
                          "y, x: the unit's indices; channel (default 0): for effective.")
    effective: documented({"type": "object", "properties": {
        "weights": {"type": "string", "enum": ["constant", "random"]}, "seed": _INT, "channels": _INT}}) = Field(
        None, description="Also measure the unit's effective receptive field by autograd.")


class RFLayer(BaseModel):
    name: str
    op: str
    n: list[int]
    j: list[float] = Field(description="Jump [h, w]: input pixels between neighbouring unit centres.")
    r: list[float] = Field(description="Receptive field [h, w] in input pixels.")
    start: list[float] = Field(description="Centre of unit 0 [h, w]; pixel i has centre i + 0.5.")


class Box(BaseModel):
    y0: float
    y1: float
    x0: float
    x1: float


class Heatmap(BaseModel):
    width: int
    height: int
    min: float
    max: float
    encoding: Literal["list", "uint8-base64"]
    data: Any = Field(description="Nested list (up to 64×64) or base64 of uint8 row-major, scaled min→0, max→255.")


class Wrapped(BaseModel):
    """Half-open ranges of input pixels per axis, outside clipped; both [] when padding is zeros."""

    y: list[list[int]] = Field(description="[y0, y1) row ranges.")
    x: list[list[int]] = Field(description="[x0, x1) column ranges.")


class EffectiveField(BaseModel):
    weights: str
    seed: int
    channels: int | None
    value: float = Field(description="The unit's value on this input.")
    bbox: Box | None = Field(description="Half-open bounding box of the nonzero gradient, input pixels.")
    nonzero: int
    heatmap: Heatmap = Field(description="|∂unit/∂input| summed over input channels, H×W.")


class ReceptiveFieldResponse(BaseModel):
    ok: Literal[True]
    input_size: list[int]
    layers: list[RFLayer] = Field(description="Entry 0 is the input; entry k the output of layer k − 1.")
    unit: dict[str, Any] | None = None
    region: Box | None = Field(None, description="centre ± r/2, half-open, input pixels, before clipping.")
    clipped: Box | None = Field(None, description="The whole pixels of region inside the image.")
    wrapped: Wrapped | None = Field(None, description="Pixels outside clipped that the unit also reads through a "
                                                      "conv2d's reflect, replicate or circular padding, per axis.")
    effective: EffectiveField | None = None
    pytorch: str | None = Field(None, description="The stack as runnable PyTorch: a torch.nn.Module with the "
                                                  "inferred in_channels / in_features / num_features, run on a "
                                                  "zero input; `y` is its output.")


class LayerParam(BaseModel):
    name: str
    type: str = Field(description="int, int or [h, w], bool, number, string, ...; \"or null\" where null is taken.")
    default: Any = Field(description="The default; null where the parameter is required or inferred.")
    meaning: str
    range: list[Any] | None = Field(None, description="[lo, hi], inclusive, for numbers.")
    choices: list[Any] | None = Field(None, description="The values taken, for strings.")
    bank_default: Any = Field(None, description="The image lab's conv kernel: its default when kernel_size is given "
                                                "(a bank of seeded random filters).")


class LayerKind(BaseModel):
    op: str
    meaning: str = Field(description="One line: what the layer computes.")
    merge: bool = Field(description="add / concat: reads `inputs` (two or more names) instead of `input`.")
    params: list[LayerParam] = Field(description="Its own parameters, then name and input (or inputs).")
    lab: list[LayerParam] = Field([], description="The image lab's own parameters, and the lab's defaults where they "
                                                  "differ (same name: replaces the entry in params there).")
    lab_new: dict[str, Any] = Field({}, description="The layer the lab's editor adds for this kind.")


class LayerKindsResponse(BaseModel):
    ok: Literal[True]
    layers: list[LayerKind]


class Preset(BaseModel):
    id: str
    title: str
    description: str
    source: str
    input_shape: list[int]
    input_size: list[int]
    layers: list[dict[str, Any]]


class PresetList(BaseModel):
    ok: Literal[True]
    presets: list[Preset]


class PresetResponse(BaseModel):
    ok: Literal[True]
    preset: Preset


class ExerciseRequest(StrictModel):
    kind: documented({"type": "string"})
    seed: documented(_INT) = 0
    difficulty: documented({"type": "integer", "enum": [1, 2, 3]}) = 1


class GradeRequest(ExerciseRequest):
    answer: documented({"description": "Shaped as the exercise's answer_format says."}) = None
    reveal: documented({"type": "boolean"}) = False


class ExerciseResponse(BaseModel):
    ok: Literal[True]
    kind: str
    seed: int
    difficulty: int
    title: str
    prompt: str
    given: dict[str, Any] = Field(description="The data, for a program: tensors as nested lists, torch names.")
    answer_format: dict[str, Any]


class GradeResponse(BaseModel):
    ok: Literal[True]
    kind: str
    seed: int
    difficulty: int
    correct: bool
    score: float = Field(description="0..1; for values, the fraction of elements within tolerance.")
    feedback: str
    expected: Any = Field(None, description="Only with reveal: true.")


class KindsResponse(BaseModel):
    ok: Literal[True]
    kinds: list[dict[str, Any]]
    grading: dict[str, Any]
