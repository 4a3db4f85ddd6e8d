"""POST /api/v1/pipeline (JSON or streamed frames), POST /api/v1/pipeline/probe; GET /lab is the page."""
import contextlib
import functools
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse

from ..core.exceptions import InvalidRequest, unknown_parameter
from ..core.images import DecodedImage
from ..core.lab_table import lab_presets
from ..core.models import run as model_run
from ..core.pipeline import Plan
from ..core.pipeline_run import PipelineRun, run_pipeline
from ..core.probe import probe
from ..core.samples import SAMPLE_IDS, default_side, load_sample, offered_sides
from ..embed import embedded
from ..frames import MEDIA_TYPE, FrameStream
from ..responses import JSONResponse
from ..schemas_lab import LabPresetList, PipelineRequest, PipelineResponse, ProbeRequest, ProbeResponse
from .deps import ERRORS, device_of, gate_of, rendered, require_json, settings_of
from .images import samples_of, store_of
from .models import store_of as model_store_of

# No `from __future__ import annotations` here: FastAPI must see the model classes themselves.
router = APIRouter(tags=["lab"])


def _image(request: Request, ref: Any, max_side: Any) -> Callable[[], DecodedImage]:
    """The upload or sample, fitted within max_side (default: as stored): checked here, on the event loop,
    and returned as a call that makes it (a resize, a sample not cached at start-up) in the job's thread."""
    limit = settings_of(request).image_max_side
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int)
                                 or not 8 <= max_side <= limit):
        raise InvalidRequest(f"image_max_side must be an integer from 8 to {limit} (this server's image_max_side), "
                             f"not {str(max_side)[:40]}.", ["image_max_side"])
    if isinstance(ref, dict) and len(ref) == 1 and not {"id", "sample"} & set(ref):
        [key] = ref
        raise unknown_parameter("image", key, ("id", "sample"), ["image", key])
    if not isinstance(ref, dict) or ("id" in ref) == ("sample" in ref) or len(ref) != 1:
        raise InvalidRequest('image must be {"id": "<sha256 of an upload>"} or {"sample": "<name>"}.', ["image"])
    if "id" in ref:
        store = store_of(request)
        stored = store.get(ref["id"])  # an unknown id is a 404 before the job waits for a slot
        return (lambda: stored.image) if max_side is None else functools.partial(store.get_sized, ref["id"], max_side)
    cache = samples_of(request)
    name, size = ref["sample"], cache.size_for(max_side)
    held = cache.image(name, size)
    if held is None and name not in SAMPLE_IDS:
        load_sample(name, size=size)  # raises now: the 404 or 422 names the samples
    return (lambda: held) if held is not None else functools.partial(load_sample, name, size=size)


def _source(request: Request, body: Any, image: Callable[[], DecodedImage],
            ) -> tuple[DecodedImage, tuple[Any, Any, Plan | None, dict[str, Any]]]:
    """The image made in the job's thread, and (pixels, layers, plan, extra response fields): the photo and the
    lab's layers, or a model and the tensor it receives (core/models/run.py). Runs in the compute gate: weights
    may be made here."""
    made = image()
    if body.model is None:
        return made, (made.pixels, body.layers, None, {})
    if body.layers:
        raise InvalidRequest("Give layers or model, not both: a model brings its own layers.", ["layers"])
    plan, meta = model_run.load(body.model, model_store_of(request), settings_of(request).weights_dir,
                                 request.app.state.weights)
    pixels = model_run.model_input(made.pixels, plan.input_shape, meta["input"]["normalize"])
    return made, (pixels, None, plan, {"model": meta})


def _meta(image: DecodedImage) -> dict[str, Any]:
    return {"width": image.width, "height": image.height, "channels": image.channels, "resized": image.resized,
            "original_width": image.original_width, "original_height": image.original_height}


_STREAM = {200: {"description": "With transport json: the JSON below. With transport stream: frames (see the "
                                "transport field).", "content": {MEDIA_TYPE: {"schema": {"type": "string",
                                                                                        "format": "binary"}}}}}


@router.post("/api/v1/pipeline", responses={**ERRORS, **_STREAM}, response_model=PipelineResponse,
             dependencies=[Depends(require_json)],
             summary="Run a layer stack on an image and return every feature map, uint8 at display size")
async def pipeline(request: Request, body: Annotated[PipelineRequest, Body()]) -> Any:
    image = _image(request, body.image, body.image_max_side)
    gate, device = gate_of(request), device_of(request)
    args = dict(max_side=body.max_side, encoding=body.encoding, device=device)
    if body.transport == "stream":
        slot = contextlib.AsyncExitStack()
        await slot.enter_async_context(gate.slot())
        try:
            made, (pixels, layers, plan, extra) = await gate.call(_source, request, body, image)
            run = await gate.call(PipelineRun, pixels, layers, plan=plan, **args)
        except BaseException:
            await slot.aclose()
            raise
        # the network as the registry writes it: the body that /shapes and /receptive-field take
        network = {"input_shape": list(run.plan.input_shape), "layers": run.plan.network}
        return FrameStream(run, gate, slot, {"image": _meta(made), "device": str(device), "network": network,
                                             **extra})
    if body.transport != "json":
        raise InvalidRequest(f"transport must be json or stream, not {str(body.transport)[:40]!r}.", ["transport"])

    def work() -> tuple[DecodedImage, dict[str, Any]]:
        made, (pixels, layers, plan, extra) = _source(request, body, image)
        return made, {**extra, **run_pipeline(pixels, layers, plan=plan, spare=gate.spare, fragment=True,
                                                 **args)}

    made, result = await gate.run(work)
    # Base64 of quantised maps barely compresses, and gzip of a 50 MB body costs 20× the compute
    # (bench/image_pipeline.py); an explicit encoding makes the GZip middleware pass it through.
    return await rendered(request, {"ok": True, "image": _meta(made), **result},
                          headers={"Content-Encoding": "identity"})


@router.post("/api/v1/pipeline/probe", responses=ERRORS, response_model=ProbeResponse,
             dependencies=[Depends(require_json)],
             summary="One unit of a pipeline: its value, receptive field (theoretical and by autograd), hypercolumn")
async def pipeline_probe(request: Request, body: Annotated[ProbeRequest, Body()]) -> JSONResponse:
    image = _image(request, body.image, body.image_max_side)

    def work() -> tuple[DecodedImage, dict[str, Any]]:
        made, (pixels, layers, plan, extra) = _source(request, body, image)
        return made, {**extra, **probe(pixels, layers, body.unit, device=device_of(request), max_side=body.max_side,
                                       hypercolumn=body.hypercolumn, plan=plan)}

    made, result = await gate_of(request).run(work)
    return await rendered(request, {"ok": True, "image": _meta(made), **result})


@router.get("/api/v1/pipeline/presets", responses=ERRORS, response_model=LabPresetList,
            summary="The image lab's presets",
            description="Named layer lists for POST /api/v1/pipeline (the /lab page's preset menu); each passes "
                        "the pipeline's checks on an RGB image.")
async def pipeline_presets() -> JSONResponse:
    return JSONResponse({"ok": True, "presets": lab_presets()})


@router.get("/lab", response_class=HTMLResponse, include_in_schema=False)
async def lab_page(request: Request) -> HTMLResponse:
    # what the page reads before its first run, in the order it asks (the sample: the address's, else the camera)
    sample = request.query_params.get("sample", "camera")
    data = await embedded(request, ("/kernels", "/layers", "/pipeline/presets", "/models", "/samples",
                                    *((f"/samples/{sample}",) if sample in SAMPLE_IDS else ())))
    return request.app.state.templates.TemplateResponse(
        request, "lab.html", {"page": "lab", "image_max_side": settings_of(request).image_max_side,
                              "work_sides": offered_sides(settings_of(request).image_max_side),
                              "work_side": default_side(settings_of(request).image_max_side), "embedded": data})
