"""Request and response models of the image lab: /pipeline, /pipeline/probe (same style as schemas.py).

Layer objects are checked by core/pipeline.py, which writes the sentence ("Layer 2 (max_pool2d): ...").
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .core.encoding import ENCODING_TEXT
from .core.layers import STACK_OPS
from .schemas import StrictModel, documented

_INT = {"type": "integer"}
ImageRef = documented({"type": "object", "description": 'An upload {"id": "<sha256>"} or a built-in {"sample": '
                       '"<name>"} (GET /api/v1/samples).', "properties": {"id": {"type": "string"},
                                                                         "sample": {"type": "string"}}})
LabLayers = documented({"type": "array", "description": "Layer objects (GET /api/v1/layers, with name, input and "
                        "the add / concat merges, plus the lab's kernel, mode, from), run in order on the image; "
                        "see /lab.",
                        "items": {"type": "object", "required": ["op"], "additionalProperties": True,
                                  "properties": {"op": {"type": "string", "enum": list(STACK_OPS)}}}})
Side = documented({"type": "integer", "minimum": 1, "maximum": 1024})
Encoding = documented({"type": "string", "enum": ["raw", "png", "f32"], "description": ENCODING_TEXT})
Unit = documented({"type": "object", "description": "layer: 0 is the image, k the output of layer k − 1; y, x: "
                   "the unit's full-resolution position; channel (default 0).",
                   "properties": {"layer": _INT, "y": _INT, "x": _INT, "channel": _INT}})


ModelRef = documented({"type": "object", "description": 'In place of layers: {"id": "<catalogue id or an uploaded '
                       'model\'s sha256>"}, optionally "seed" (random catalogue weights), "weights" (a catalogue '
                       'model: the id POST /api/v1/models/{id}/weights returned) and "normalize" '
                       '("imagenet" or "none"). The input map is then the tensor the model receives (README, '
                       '"Models on a photo").', "properties": {"id": {"type": "string"}, "seed": _INT,
                                                               "weights": {"type": "string"},
                                                               "normalize": {"type": "string",
                                                                             "enum": ["imagenet", "none"]}}})


class _LabBody(StrictModel):
    image: ImageRef
    layers: LabLayers = Field(default_factory=list)
    model: ModelRef = None
    image_max_side: Side = Field(None, description="Work on the image resized (area-aware) to this longest side; "
                                                   "default: as uploaded (at most the server's image_max_side).")


class PipelineRequest(_LabBody):
    max_side: Side = Field(256, description="Longest side of each map as sent: maps are block-averaged by an "
                                            "integer factor to fit (the factor is in each map).")
    encoding: Encoding = "raw"
    transport: documented({"type": "string", "enum": ["json", "stream"]}) = Field(
        "json", description='json: one JSON body, map data base64. stream: application/vnd.convscope.frames, a '
                            'frame per layer as it is computed (see /lab and the README); the client can stop '
                            'it by closing the connection.')


class ProbeRequest(_LabBody):
    unit: Unit
    max_side: Side = Field(256, description="Longest side of the effective-field map as sent.")
    hypercolumn: documented({"type": "string", "enum": ["nearest", "bilinear"]}) = "nearest"


class MapInfo(BaseModel):
    channel: int
    encoding: str
    width: int
    height: int
    full_width: int
    full_height: int
    factor: int = Field(description="Display pixel (i, j) is the mean of full-resolution rows [i·factor, "
                                    "(i+1)·factor) and columns [j·factor, (j+1)·factor).")
    scale: float
    min: float = Field(description="The channel's minimum over the full-resolution map (code 0).")
    max: float = Field(description="The channel's maximum (code 255).")
    data: str = Field(description="base64 of the encoded map.")


class Field_(BaseModel):
    op: str
    n: list[int]
    j: list[float] = Field(description="Input pixels between neighbouring unit centres.")
    r: list[float]
    start: list[float] = Field(description="Centre of unit 0, in input pixels (pixel i has centre i + 0.5).")


class InputBlock(BaseModel):
    shape: list[int]
    field: Field_
    maps: list[MapInfo]


class LayerBlock(InputBlock):
    index: int
    op: str
    name: str | None = Field(None, description="The layer's name (given, or the default such as conv1).")
    inputs: list[str] | None = Field(None, description="The names it reads (\"input\": the network's input).")
    sweep: dict[str, Any] | None = Field(None, description="Per axis: starts[o] + taps[t] is the input cell "
                                                           "that output o reads through tap t (kind window), or "
                                                           "the output cell input o writes (kind scatter).")
    stats: dict[str, Any] | None = Field(None, description="batch_norm2d: the statistics it normalised with.")


class ImageMeta(BaseModel):
    width: int
    height: int
    channels: int
    resized: bool
    original_width: int
    original_height: int


class PipelineResponse(BaseModel):
    ok: Literal[True]
    image: ImageMeta
    input: InputBlock
    layers: list[LayerBlock]
    device: str
    model: dict[str, Any] | None = Field(None, description="With a model: its id, weights (random, trained or "
                                                           "uploaded) and how the photo became its input.")


class ProbeResponse(BaseModel):
    ok: Literal[True]
    image: ImageMeta
    unit: dict[str, Any]
    region: dict[str, float] = Field(description="centre ± r/2, half-open, in input pixels, before clipping.")
    clipped: dict[str, int]
    wrapped: dict[str, list[list[int]]] = Field(description="Per axis (y, x), half-open ranges of pixels outside "
                                                            "clipped that the unit also reads through a conv2d's "
                                                            "reflect, replicate or circular padding.")
    effective: dict[str, Any] = Field(description="|∂unit/∂image| by autograd: bbox, nonzero, max, and the map.")
    hypercolumn: dict[str, Any]
    model: dict[str, Any] | None = None


class ImageInfo(BaseModel):
    ok: Literal[True]
    id: str = Field(description="The sha256 (hex) of the uploaded bytes.")
    width: int
    height: int
    channels: int = Field(description="1 (grayscale) or 3 (colour).")
    format: str
    original_width: int = Field(description="Before resizing, after EXIF orientation.")
    original_height: int
    resized: bool


class Sample(BaseModel):
    id: str
    title: str
    kind: str
    description: str
    width: int
    height: int
    channels: int
    credit: str | None = None
    source: str | None = None


class SampleList(BaseModel):
    ok: Literal[True]
    samples: list[Sample]


class SampleInfo(Sample):
    ok: Literal[True]
    resized: bool
    original_width: int
    original_height: int


class KernelList(BaseModel):
    ok: Literal[True]
    kernels: list[dict[str, Any]] = Field(description="name, title, description, params (type, default, range), "
                                                      "weights (the default kH×kW taps).")


#: The request body of an upload route: multipart/form-data with one file field, `file` (OpenAPI's words;
#: the routes read it themselves, server/uploads.py).
FILE_UPLOAD: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}}

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The image as an 8-bit PNG.", "content": {"image/png": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}}}


class LabPreset(BaseModel):
    title: str
    layers: list[dict[str, Any]] = Field(description="The body's layers, as POST /api/v1/pipeline takes them.")


class LabPresetList(BaseModel):
    ok: Literal[True]
    presets: list[LabPreset]
