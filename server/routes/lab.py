"""POST /api/v1/pipeline: run a small layer stack on an uploaded or built-in image; GET /lab is the page."""
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse

from ..core.exceptions import InvalidRequest
from ..core.pipeline import DEFAULT_MAX_SIDE, run_pipeline
from ..core.samples import load_sample
from ..responses import JSONResponse
from .deps import ERRORS, device_of, gate_of, require_json
from .images import sample_size, store_of

router = APIRouter(tags=["lab"])


def _resolve_image(request: Request, ref: Any):
    if not isinstance(ref, dict) or ("id" in ref) == ("sample" in ref):
        raise InvalidRequest('image must be {"id": "<sha256 of an upload>"} or {"sample": "<name>"}.', ["image"])
    if "id" in ref:
        return store_of(request).get(ref["id"]).image
    return load_sample(ref["sample"], size=sample_size(request))


@router.post("/api/v1/pipeline", responses=ERRORS, dependencies=[Depends(require_json)],
             summary="Run a layer stack on an image and return every feature map, uint8 at display size")
async def pipeline(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    image = _resolve_image(request, body.get("image"))
    result = await gate_of(request).run(run_pipeline, image.pixels, body.get("layers", []),
                                        max_side=body.get("max_side", DEFAULT_MAX_SIDE),
                                        encoding=body.get("encoding", "raw"), device=device_of(request))
    meta = {"width": image.width, "height": image.height, "channels": image.channels, "resized": image.resized,
            "original_width": image.original_width, "original_height": image.original_height}
    # Base64 of quantised maps barely compresses, and gzip of a 50 MB body costs 20× the compute
    # (bench/image_pipeline.py); an explicit encoding makes the GZip middleware pass it through.
    return JSONResponse({"ok": True, "image": meta, **result}, headers={"Content-Encoding": "identity"})


@router.get("/lab", response_class=HTMLResponse, include_in_schema=False)
async def lab_page(request: Request) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, "lab.html", {"page": "lab"})
