"""POST /api/v1/views/...: data laid out for one page's drawing, when an op's own response is not enough."""
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..core.transpose_view import transpose_view
from ..examples import for_endpoint
from ..responses import JSONResponse
from ..schemas import IntOrList, StrictInt, Tensor
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


@router.post("/transpose", responses=ERRORS, response_model=TransposeViewResponse,
             summary="Transposed convolution as a direct convolution",
             description="The input zero-stretched by the stride and padded by d(k-1)-p (plus output_padding at "
                         "the bottom/right), the kernel flipped with its channel axes swapped, and the direct "
                         "stride-1 convolution's output and trace, checked against conv_transpose.")
async def transpose(body: Annotated[TransposeViewRequest, Body(openapi_examples=for_endpoint("views/transpose"))],
                    request: Request) -> JSONResponse:
    payload: dict[str, Any] = body.model_dump(exclude_unset=True)
    result = await gate_of(request).run(transpose_view, payload, limits=settings_of(request).limits,
                                        device=device_of(request))
    return await rendered(request, {"ok": True, **result})
