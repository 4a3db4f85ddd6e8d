"""POST /api/v1/shapes, POST /api/v1/receptive-field, GET /api/v1/layers, GET /api/v1/presets[/{id}]:
the arithmetic of stacks and networks."""
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from ..core.lab_table import published_lab
from ..core.layers import published, summarize
from ..core.presets import get_preset, list_presets
from ..core.receptive import input_shape_of, receptive_field
from ..core.stack_code import stack_code
from ..examples import for_endpoint
from ..responses import JSONResponse
from ..schemas_arith import (LayerKindsResponse, PresetList, PresetResponse, ReceptiveFieldRequest, ReceptiveFieldResponse,
                             ShapesRequest, ShapesResponse)
from .deps import ERRORS, gate_of, require_json

# No `from __future__ import annotations` here: FastAPI must see the model classes themselves.
router = APIRouter(prefix="/api/v1", tags=["arithmetic"], dependencies=[Depends(require_json)])


@router.post("/shapes", response_model=ShapesResponse, responses=ERRORS, summary="Shapes of a layer stack",
             description="Each layer's output shape, parameters, MACs and size formula with the numbers filled in. "
                         "An impossible layer is a 422 whose sentence starts with the layer's index.")
async def shapes(body: Annotated[ShapesRequest, Body(openapi_examples=for_endpoint("shapes"))]) -> JSONResponse:
    result = summarize(body.input_shape, body.layers, body.input_size)
    return JSONResponse({"ok": True, **result})


@router.post("/receptive-field", response_model=ReceptiveFieldResponse, responses=ERRORS,
             summary="Receptive fields of a layer stack",
             description="n, j, r, start per layer and axis (entry 0 = the input: n = size, j = 1, r = 1, "
                         "start = 0.5). With unit: its region (centre ± r/2) and the region clipped to the image; "
                         "with effective: the unit's gradient magnitude w.r.t. the input, by autograd; "
                         "pytorch: the stack as a runnable torch.nn.Module.")
async def receptive(body: Annotated[ReceptiveFieldRequest, Body(openapi_examples=for_endpoint("receptive-field"))],
                     request: Request) -> JSONResponse:
    def compute() -> dict:
        result = receptive_field(body.input_size, body.layers, body.unit, body.input_shape, body.effective)
        code = stack_code(list(input_shape_of(body.input_size, body.input_shape, body.layers)), body.layers)
        return {"ok": True, **result, "pytorch": code}

    return JSONResponse(await gate_of(request).run(compute))


@router.get("/layers", response_model=LayerKindsResponse, responses=ERRORS, summary="Every layer kind",
            description="Each layer kind /shapes and /receptive-field accept, with its parameters (name, type, "
                        "default, range or choices, meaning): the table validation itself reads. `lab`: the image "
                        "lab's own parameters and its defaults where they differ (POST /api/v1/pipeline); "
                        "`lab_new`: the layer the lab's editor starts a new one as.")
async def layer_kinds() -> JSONResponse:
    return JSONResponse({"ok": True, "layers": [{**kind, **published_lab(kind["op"])} for kind in published()]})


@router.get("/presets", response_model=PresetList, responses=ERRORS, summary="Named layer stacks",
            description="AlexNet (published and torchvision), VGG-16, the ResNet-18 stem, the 1-2-4 dilated stack, "
                        "the lecture's two convolutions and an encoder-decoder; each works unchanged as the body "
                        "of /shapes and /receptive-field.")
async def presets() -> JSONResponse:
    return JSONResponse({"ok": True, "presets": list_presets()})


@router.get("/presets/{preset_id}", response_model=PresetResponse, responses=ERRORS, summary="One named stack")
async def preset(preset_id: str) -> JSONResponse:
    return JSONResponse({"ok": True, "preset": get_preset(preset_id)})
