"""POST /api/v1/views/...: data laid out for one page's drawing, when an op's own response is not enough."""
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..core.backprop_view import backprop_view
from ..core.pool_view import pool_view
from ..core.receptive_view import receptive_view
from ..core.transpose_view import transpose_view
from ..examples import for_endpoint
from ..responses import JSONResponse
from ..schemas import IntOrList, StrictBool, StrictInt, Tensor, documented
from ..schemas_arith import InputShape, Layers
from .deps import ERRORS, device_of, gate_of, rendered, require_json, settings_of

router = APIRouter(prefix="/api/v1/views", tags=["views"], dependencies=[Depends(require_json)])


class TransposeViewRequest(BaseModel):
    """conv_transpose1d/2d's own parameters: weight is C_in × C_out/groups × kernel."""

    model_config = ConfigDict(extra="forbid")
    input: Tensor
    weight: Tensor
    bias: Tensor = None
    stride: IntOrList = 1
    padding: IntOrList = 0
    output_padding: IntOrList = 0
    dilation: IntOrList = 1
    groups: StrictInt = 1


class TransposeViewResponse(BaseModel):
    ok: bool
    op: str
    output: list[Any] = Field(description="conv_transpose's output, as /ops returns it.")
    shape: list[int]
    stretched: list[Any] = Field(description="The input zero-stretched by the stride and padded by d(k-1)-p "
                                             "(plus output_padding at the bottom/right; cropped where negative).")
    stretched_shape: list[int]
    kinds: list[Any] = Field(description="Per stretched cell: input, inserted, padding or output_padding.")
    origin: list[Any] = Field(description="Per stretched cell: the input coordinates it copies, or null.")
    pad: list[list[int]] = Field(description="Per axis [before, after] = [d(k-1)-p, d(k-1)-p+output_padding].")
    flipped_weight: list[Any] = Field(description="The kernel flipped, channel axes swapped: C_out × C_in/g × k.")
    direct: dict[str, Any] = Field(description="The stride-1 conv of stretched with flipped_weight: output, "
                                               "shape, trace.")
    matches: bool = Field(description="Whether the direct conv equals conv_transpose (it always should).")
    ops: dict[str, dict[str, Any]] = Field(description="trace and toeplitz: what POST /api/v1/ops/{op} answers for "
                                                       "the body with extras [that one], or, where it refused, "
                                                       "the error envelope's status, error and errors.")


@router.post("/transpose", responses=ERRORS, response_model=TransposeViewResponse,
             summary="Transposed convolution as a direct convolution",
             description="The input zero-stretched by the stride and padded by d(k-1)-p (plus output_padding at "
                         "the bottom/right), the kernel flipped with its channel axes swapped, and the direct "
                         "stride-1 convolution's output and trace, checked against conv_transpose.")
async def transpose(body: Annotated[TransposeViewRequest, Body(openapi_examples=for_endpoint("views/transpose"))],
                    request: Request) -> JSONResponse:
    return await _answer(request, transpose_view, body)


class PoolViewRequest(BaseModel):
    """The pooling parameters of /pool: each panel's op takes the ones it has (avg_pool2d no dilation, max_pool2d
    no count_include_pad; the upsampling panels scale_factor)."""

    model_config = ConfigDict(extra="forbid")
    input: Tensor
    kernel_size: IntOrList
    stride: IntOrList = Field(None, description="Defaults to kernel_size.")
    padding: IntOrList = 0
    dilation: IntOrList = Field(1, description="max_pool2d's only.")
    ceil_mode: StrictBool = False
    count_include_pad: StrictBool = Field(True, description="avg_pool2d's only.")
    scale_factor: documented({"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]}) = Field(
        None, description="The upsampling panels' interpolate scale_factor.")


_PANEL = ("What POST /api/v1/ops/{op} answers for this panel's body (output, shape, trace, ...), or, where that op "
          "refused it, the error envelope's status, error and errors.")


class PoolViewResponse(BaseModel):
    ok: bool
    max: dict[str, Any] = Field(description="max_pool2d of the input, with its indices and trace.")
    avg: dict[str, Any] = Field(description="avg_pool2d of the input. " + _PANEL)
    unpool: dict[str, Any] = Field(description="max_unpool2d of max's output by its indices, to the input's size. "
                                               + _PANEL)
    nearest: dict[str, Any] = Field(description="interpolate of max's output, mode nearest. " + _PANEL)
    bilinear: dict[str, Any] = Field(description="interpolate, mode bilinear, align_corners false. " + _PANEL)
    bilinear_align_corners: dict[str, Any] = Field(description="interpolate, mode bilinear, align_corners true. "
                                                               + _PANEL)
    calls: dict[str, dict[str, Any]] = Field(description="Per panel: op, and the parameters it was given (its "
                                                         "tensors left out: the input, or max's output and indices).")


@router.post("/pool", responses=ERRORS, response_model=PoolViewResponse,
             summary="Pooling, unpooling and upsampling in one answer",
             description="max_pool2d and avg_pool2d of the input, max_unpool2d of the max's output by its indices, "
                         "and interpolate of the max's output three ways; each panel exactly what /ops answers "
                         "for it. A refusal of max_pool2d is the request's (422); another op's refusal is its "
                         "panel's answer, and the other panels are still there.")
async def pool(body: Annotated[PoolViewRequest, Body(openapi_examples=for_endpoint("views/pool"))],
               request: Request) -> JSONResponse:
    return await _answer(request, pool_view, body)


class ReceptiveViewRequest(BaseModel):
    """A network as /shapes and /receptive-field take it, the unit the page draws and whether to measure its
    effective field."""

    model_config = ConfigDict(extra="forbid")
    input_shape: InputShape
    layers: Layers
    unit: documented({"type": "object", "properties": {"layer": {"type": "integer"}, "y": {"type": "integer"},
                                                       "x": {"type": "integer"}}}) = Field(
        None, description="layer: an index into receptive_field's layers (0 = the input), y, x: the unit's indices. "
                          "Each part that is missing or does not fit the network is the centre unit of the top "
                          "level drawn (unit in the answer says which unit was drawn).")
    effective: StrictBool = Field(False, description="Also measure the unit's effective field on the input "
                                                     "(constant weights, one channel), as /receptive-field does.")


class ReceptiveViewResponse(BaseModel):
    ok: bool
    shapes: dict[str, Any] = Field(description="What POST /api/v1/shapes answers for the network.")
    receptive_field: dict[str, Any] = Field(description="What POST /api/v1/receptive-field answers for the network "
                                                        "(no unit), with pytorch.")
    unit: dict[str, int] = Field(description="The unit drawn: layer, y, x.")
    levels: list[int] = Field(description="The entries drawn: those on a path to the unit that change n, j, r or "
                                          "start or merge paths (only the input when more than 12), the unit's, "
                                          "the top one.")
    pickable: int = Field(description="Entries before this index have units on a grid (flatten and linear end it).")
    deep: int = Field(description="How many levels feed the unit when they are too many to draw (else 0).")
    fields: list[dict[str, Any]] = Field(description="Per level drawn below the unit (level: its entry): what "
                                                     "/receptive-field answers for the part of the network from "
                                                     "that level up to the unit, the level's output as its input; "
                                                     "on the input with effective when asked, or effective_error "
                                                     "(why it was not measured).")
    paths: list[dict[str, Any]] = Field(description="For a unit on a merge (or above one along one-input layers): "
                                                    "per input of the merge, its name (via), the field r and the "
                                                    "region clipped to the image through that input alone.")


@router.post("/receptive-field", responses=ERRORS, response_model=ReceptiveViewResponse,
             summary="A network's receptive fields and one unit's field on every level, in one answer",
             description="The table of /shapes and /receptive-field, the unit drawn, and that unit's field in "
                         "the units of every level below it and through each input of its merge: each one "
                         "exactly what /receptive-field answers for that part of the network.")
async def receptive(body: Annotated[ReceptiveViewRequest,
                                    Body(openapi_examples=for_endpoint("views/receptive-field"))],
                    request: Request) -> JSONResponse:
    return await _answer(request, receptive_view, body)


class BackpropViewRequest(BaseModel):
    """The op, its own parameters as /ops takes them, and the seed of grad_output."""

    model_config = ConfigDict(extra="allow")
    op: documented({"type": "string", "enum": ["conv2d", "max_pool2d", "avg_pool2d"]})
    grad_seed: StrictInt = Field(0, description="The seed of grad_output's integers in [-2, 2] (mulberry32, drawn "
                                                "row-major as the pages draw their example tensors).")


class BackpropViewResponse(BaseModel):
    ok: bool
    grad_output: list[Any] = Field(description="The seeded tensor, shaped as the op's output.")
    answer: dict[str, Any] = Field(description="What POST /api/v1/ops/{op} answers for the op's parameters with "
                                               "this grad_output and extras [\"backward_trace\"].")


@router.post("/backprop", responses=ERRORS, response_model=BackpropViewResponse,
             summary="A backward pass with a seeded grad_output, in one answer",
             description="The op's parameters (input, weight and bias for conv2d, as /ops takes them), grad_output "
                         "drawn from grad_seed in the op's output shape, and the backward: exactly what /ops "
                         "answers with that grad_output and the backward trace. A refusal of the op is the "
                         "request's.")
async def backprop(body: Annotated[BackpropViewRequest, Body(openapi_examples=for_endpoint("views/backprop"))],
                   request: Request) -> JSONResponse:
    return await _answer(request, backprop_view, body)


async def _answer(request: Request, view: Callable[..., dict[str, Any]], body: BaseModel) -> JSONResponse:
    """The view's data for the body's fields as sent, computed in the gate, in the success envelope."""
    result = await gate_of(request).run(view, body.model_dump(exclude_unset=True), limits=settings_of(request).limits,
                                        device=device_of(request))
    return await rendered(request, {"ok": True, **result})
