"""Images: upload (held in memory only), metadata, PNG previews, built-in samples, the kernel catalogue."""
from __future__ import annotations

import io

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from PIL import Image

from ..core.images import DecodedImage, ImageStore
from ..core.kernels import list_kernels
from ..core.samples import SampleCache, list_samples, load_sample
from ..responses import JSONResponse
from ..schemas_lab import FILE_UPLOAD, PNG_RESPONSE, ImageInfo, KernelList, SampleInfo, SampleList
from ..uploads import read_upload
from .deps import ERRORS, JSON_ERRORS, gate_of, settings_of

router = APIRouter(prefix="/api/v1", tags=["images"])


def store_of(request: Request) -> ImageStore:
    return request.app.state.images


def samples_of(request: Request) -> SampleCache:
    return request.app.state.samples


def sample_size(request: Request) -> int:
    return samples_of(request).largest


async def sample_image(request: Request, name: str, size: int) -> DecodedImage:
    """A built-in image: from the cache filled at start-up, else made in a worker thread."""
    held = samples_of(request).image(name, size)
    return held if held is not None else await gate_of(request).offload(load_sample, name, size=size)


def png_of(image: DecodedImage) -> bytes:
    """The (resized) image as an 8-bit PNG, what the page shows under the maps."""
    arr = np.clip(np.rint(np.asarray(image.pixels) * 255.0), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr[0]) if arr.shape[0] == 1 else Image.fromarray(arr.transpose(1, 2, 0))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class PNGResponse(Response):
    media_type = "image/png"


def _png_response(data: bytes) -> PNGResponse:
    return PNGResponse(data, headers={"Cache-Control": "private, max-age=3600"})


@router.post("/images", responses=ERRORS, response_model=ImageInfo, summary="Upload an image (multipart field `file`); kept in memory only",
             openapi_extra=FILE_UPLOAD)
async def upload_image(request: Request) -> JSONResponse:
    s = settings_of(request)
    upload = await read_upload(request, field_name="file", max_bytes=s.max_upload_bytes)
    stored = await gate_of(request).run(store_of(request).put, upload.data, max_side=s.image_max_side,
                                        max_pixels=s.image_max_pixels, max_bytes=s.max_upload_bytes)
    return JSONResponse({"ok": True, **stored.as_dict()})


@router.get("/images/{image_id}", responses=ERRORS, response_model=ImageInfo, summary="Metadata of an uploaded image")
async def image_meta(image_id: str, request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, **store_of(request).get(image_id).as_dict()})


@router.get("/images/{image_id}/png", responses={**JSON_ERRORS, **PNG_RESPONSE}, response_class=PNGResponse,
            summary="The uploaded image as the server holds it (PNG)")
async def image_png(image_id: str, request: Request) -> PNGResponse:
    return _png_response(await gate_of(request).offload(png_of, store_of(request).get(image_id).image))


@router.get("/samples", responses=ERRORS, response_model=SampleList, summary="The built-in images")
async def samples(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "samples": await _listing(request)})


async def _listing(request: Request) -> list[dict[str, object]]:
    cache = samples_of(request)
    held = cache.listing(cache.largest)
    return held if held is not None else await gate_of(request).offload(list_samples, cache.largest)


@router.get("/samples/{name}", responses=ERRORS, response_model=SampleInfo, summary="One built-in image's metadata")
async def sample_meta(name: str, request: Request) -> JSONResponse:
    img = await sample_image(request, name, sample_size(request))
    entry = next(s for s in await _listing(request) if s["id"] == name)
    return JSONResponse({"ok": True, **entry, "resized": img.resized, "original_width": img.original_width,
                         "original_height": img.original_height})


@router.get("/samples/{name}/png", responses={**JSON_ERRORS, **PNG_RESPONSE}, response_class=PNGResponse,
            summary="One built-in image as PNG")
async def sample_png(name: str, request: Request) -> PNGResponse:
    cache = samples_of(request)
    held = cache.png(name)
    if held is None:
        held = await gate_of(request).offload(cache.keep_png, name, png_of)
    return _png_response(held)


@router.get("/kernels", responses=ERRORS, response_model=KernelList, summary="The named kernels with their parameters")
async def kernels() -> JSONResponse:
    return JSONResponse({"ok": True, "kernels": list_kernels()})
