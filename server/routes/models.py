"""GET /api/v1/models[/{id}] (the catalogue), POST /api/v1/models (a student's ONNX file, held in memory) and
POST /api/v1/models/{id}/weights (trained weights for a catalogue model, held in memory)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request

from ..core.exceptions import InvalidRequest
from ..core.layers import summarize
from ..core.models import catalogue
from ..core.models.store import ModelStore
from ..responses import JSONResponse
from ..schemas_lab import FILE_UPLOAD
from ..uploads import read_upload
from .deps import ERRORS, gate_of, settings_of

router = APIRouter(prefix="/api/v1", tags=["models"])


def store_of(request: Request) -> ModelStore:
    return request.app.state.models


@lru_cache(maxsize=None)
def _catalogue_entry(model_id: str) -> dict[str, Any]:
    network = catalogue.network(model_id)
    params = summarize(network["input_shape"], network["layers"])["total_params"]
    return catalogue.describe(model_id) | {"layers": len(network["layers"]), "params": params}


@router.get("/models", responses=ERRORS, summary="The model catalogue",
            description="torchvision's AlexNet, VGG-16, ResNet-18, ResNet-50 and MobileNetV2 (layer for layer, "
                        "torchvision's module paths as names) and the course's U-Net and FCN. Each network posts "
                        "unchanged to /shapes and /receptive-field.")
async def models(request: Request) -> JSONResponse:
    entries = await gate_of(request).run(lambda: [_catalogue_entry(m) for m in catalogue.MODEL_IDS])
    return JSONResponse({"ok": True, "models": entries})


@router.get("/models/{model_id}", responses=ERRORS, summary="One model's network",
            description="A catalogue id, or the id of an uploaded model held in memory (a 404 once evicted).")
async def model(model_id: str, request: Request) -> JSONResponse:
    if model_id not in catalogue.MODEL_IDS and len(model_id) == 64:  # the sha256 of an uploaded file
        stored = store_of(request).get(model_id)
        return JSONResponse({"ok": True, "id": stored.id, "network": stored.model.network(),
                             "input_shape": stored.model.input_shape})
    network = catalogue.network(model_id)  # NotFound names the closest catalogue id
    return JSONResponse({"ok": True, **catalogue.describe(model_id), "network": network})


@router.post("/models", responses=ERRORS, summary="Upload an ONNX model (multipart field `file`); kept in memory only",
             description="Parsed as data with the onnx library (never unpickled, never executed), translated into "
                         "layers with its initializers as weights. An operator it cannot translate is a 422 naming "
                         "the node, its op type and the supported ones.",
             openapi_extra=FILE_UPLOAD)
async def upload_model(request: Request) -> JSONResponse:
    s = settings_of(request)
    upload = await read_upload(request, field_name="file", max_bytes=s.max_model_bytes)
    stored = await gate_of(request).run(store_of(request).put, upload.data, max_bytes=s.max_model_bytes)
    network = stored.model.network()
    summary = await gate_of(request).run(summarize, network["input_shape"], network["layers"])
    return JSONResponse({"ok": True, "id": stored.id, "network": network, "input_shape": stored.model.input_shape,
                         "layers": len(network["layers"]), "params": summary["total_params"],
                         "notes": stored.model.notes})


@router.post("/models/{model_id}/weights", responses=ERRORS, openapi_extra=FILE_UPLOAD,
             summary="Upload trained weights for a catalogue model (multipart field `file`, safetensors)",
             description="A safetensors file of the model's torchvision state_dict. Its header (length, dtypes, "
                         "every key and shape) is checked against the model before any array is made; a pickle "
                         "(.pth) is refused unopened. Held in memory only and bounded: run it with "
                         '`"model": {"id": "<catalogue id>", "weights": "<the returned id>"}` on /pipeline and '
                         "/pipeline/probe; an evicted id is a 404.")
async def upload_weights(model_id: str, request: Request) -> JSONResponse:
    if model_id not in catalogue.MODEL_IDS:
        if len(model_id) == 64:
            raise InvalidRequest("Weights are uploaded for a catalogue model; an uploaded ONNX model carries its "
                                 "own.", ["model_id"])
        catalogue.describe(model_id)  # the NotFound naming the closest catalogue id
    s = settings_of(request)
    upload = await read_upload(request, field_name="file", max_bytes=s.max_weights_bytes)
    store = request.app.state.weights
    held = await gate_of(request).run(store.put, model_id, upload.data, max_bytes=s.max_weights_bytes)
    return JSONResponse({"ok": True, "id": held.id, "model": model_id, "tensors": held.tensors,
                         "values": sum(a.size for p in held.weights.values() for a in p.values()),
                         "bytes": held.nbytes, "use": {"model": {"id": model_id, "weights": held.id}}})
