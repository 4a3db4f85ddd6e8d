"""The course's measurements that are not one op: /effective-field/... (core: erf_depth), /fully-convolutional
(core: fcn)."""
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..core.erf_depth import compare_stacks, erf_depth
from ..core.exceptions import InvalidRequest
from ..core.equivariance import measure
from ..core.fcn import fully_convolutional
from ..responses import JSONResponse
from .deps import ERRORS, gate_of, require_json
from .images import store_of as image_store_of

router = APIRouter(prefix="/api/v1/effective-field", tags=["effective field"], dependencies=[Depends(require_json)])


class DepthRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depths: list[Annotated[int, Field(strict=True)]] = Field(
        default_factory=lambda: [1, 2, 5, 10, 20, 40], max_length=64,
        description="Numbers of stacked k×k layers (1 to 64 each).")
    kernel_size: Annotated[int, Field(strict=True)] = 3
    trials: Annotated[int, Field(strict=True)] = 8
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31)] = 0


class DepthResponse(BaseModel):
    ok: bool
    kernel_size: int
    trials: int
    seed: int
    modes: list[str]
    law: str
    depths: list[dict[str, Any]] = Field(description="Per depth n: r, law_std = sqrt(n(k²−1)/12), and per mode "
                                                     "(uniform, random, random_relu) the ERF's std and 95 % width.")


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: Annotated[int, Field(strict=True)] = 64
    size: Annotated[int, Field(strict=True)] = 56


class CompareResponse(BaseModel):
    ok: bool
    channels: int
    size: int
    pairs: list[dict[str, Any]] = Field(description="5×5 vs two 3×3, 7×7 vs three 3×3: r, params, MACs, ratios.")


@router.post("/depth", responses=ERRORS, response_model=DepthResponse, summary="The effective field against depth",
             description="n stacked k×k convolutions with uniform, random and random+ReLU weights (Luo et al. "
                         "2016): the measured ERF's standard deviation and 95 % width beside r and sqrt(n(k²−1)/12).")
async def depth(body: Annotated[DepthRequest, Body()], request: Request) -> JSONResponse:
    result = await gate_of(request).run(erf_depth, body.depths, body.kernel_size, body.trials, body.seed)
    return JSONResponse({"ok": True, **result})


@router.post("/compare-stacks", responses=ERRORS, response_model=CompareResponse,
             summary="One large kernel beside stacked 3×3 convolutions",
             description="Same receptive field r; parameters and MACs of C→C layers with 'same' padding on a "
                         "size×size map.")
async def compare(body: Annotated[CompareRequest, Body()], request: Request) -> JSONResponse:
    result = await gate_of(request).run(compare_stacks, body.channels, body.size)
    return JSONResponse({"ok": True, **result})


fcn_router = APIRouter(prefix="/api/v1", tags=["fully convolutional"], dependencies=[Depends(require_json)])


class FcnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: Annotated[int, Field(strict=True)] = 20
    classes: Annotated[int, Field(strict=True)] = 4
    seed: Annotated[int, Field(strict=True)] = 0


class FcnResponse(BaseModel):
    ok: bool
    train_size: int
    size: int
    classes: int
    stride: int
    layers: list[str]
    classifier_logits: list[float]
    twin_on_train_size: list[float]
    max_abs_difference: float
    image: list[Any] = Field(description="The larger input image, 3 × size × size (crop (i, j) starts at "
                                         "(stride·i, stride·j) and is train_size wide).")
    map: list[Any] = Field(description="The twin's output on the size×size image: classes × n × n.")
    map_shape: list[int]
    sliding: list[Any] = Field(description="The classifier on every training-size crop, stride apart.")
    map_vs_sliding_max_abs_difference: float
    cost: dict[str, Any] = Field(description="MACs (the formulas') and measured seconds of both ways.")


@fcn_router.post("/fully-convolutional", responses=ERRORS, response_model=FcnResponse,
                 summary="A classifier and its fully convolutional twin",
                 description="The linear layer as a conv whose kernel is the last feature map's size, weights "
                             "copied: equal logits on the training size; on a larger image a map of outputs equal "
                             "to sliding the classifier over crops, at a fraction of the MACs.")
async def fcn(body: Annotated[FcnRequest, Body()], request: Request) -> JSONResponse:
    result = await gate_of(request).run(fully_convolutional, body.size, body.classes, body.seed)
    return JSONResponse({"ok": True, **result})


class EquivarianceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sample: str = "camera"
    image: dict[str, str] | None = Field(None, description='An uploaded image, {"id": "<sha256>"} from POST '
                                         '/api/v1/images, instead of the sample: its centred square, resized '
                                         'to size × size.')
    size: Annotated[int, Field(strict=True)] = 64
    dy: Annotated[int, Field(strict=True)] = 3
    dx: Annotated[int, Field(strict=True)] = 5
    stride: Annotated[int, Field(strict=True)] = 2


class EquivarianceResponse(BaseModel):
    ok: bool
    sample: str
    size: int
    shift: list[int]
    kernel: list[Any]
    image: list[Any] = Field(description="The grey input x (the sample's channels averaged), size × size.")
    conv: dict[str, Any] = Field(description="interior_max_error (0: equivariant there), border_max_error, and "
                                             "the difference map |conv(shift(x)) − shift(conv(x))|.")
    stride: int
    strided: list[dict[str, Any]] = Field(description="Shifts that are and are not multiples of the stride, each "
                                                      "with output_shift and its difference map.")
    frames: list[dict[str, Any]] = Field(description="The shifts from (0, 0) to (dy, dx), one pixel at a time: "
                                                     "for each, conv and strided errors and difference maps.")
    max_pool: dict[str, Any] = Field(description="2×2 max pooling against the image shifted 1 pixel right: "
                                                 "relative changes, unchanged fraction, difference maps.")
    rotation_90: dict[str, Any] = Field(description="|conv(rot90(x)) − rot90(conv(x))|: error and map.")
    scale_0_5: dict[str, Any] = Field(description="|conv(half(x)) − half(conv(x))| (bilinear 0.5): error and map.")


@fcn_router.post("/equivariance", responses=ERRORS, response_model=EquivarianceResponse,
                 summary="Translation equivariance, measured on a sample image",
                 description="conv(shift(x)) against shift(conv(x)) in the interior and at the borders; stride; "
                             "max pooling's partial invariance; rotation and scaling (not equivariant).")
async def equivariance(body: Annotated[EquivarianceRequest, Body()], request: Request) -> JSONResponse:
    upload = None
    if body.image is not None:
        if set(body.image) != {"id"}:
            raise InvalidRequest('image must be {"id": "<sha256 of an upload>"}.', ["image"])
        upload = image_store_of(request).get(body.image["id"]).image  # an evicted id: the 404 that says upload again
    result = await gate_of(request).run(  # .pixels (uint8 → float32) is made in the job, off the event loop
        lambda: measure(body.sample, body.size, body.dy, body.dx, body.stride,
                        None if upload is None else upload.pixels))
    if upload is not None:
        result["sample"] = "upload"
    return JSONResponse({"ok": True, **result})
