"""create_app(settings=None): routers, static files, templates, error handlers."""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

import anyio
import torch
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from starlette.types import ASGIApp

from . import __version__, allocator
from .assets import STATIC_DIR, TEMPLATES_DIR, AssetTable, MemoryStatic
from .compression import GZip
from .compute import ComputeGate
from .errors import install_error_handlers
from .frames import MEDIA_TYPE as FRAMES_MEDIA_TYPE
from .core.encoding import PNG_THREADS
from .core.images import ImageStore
from .core.models.store import ModelStore
from .core.models.weights_store import WeightsStore
from .core.samples import SampleCache
from .routes import arithmetic, course, docs, exercises, health, images, lab, models, ops, pages, views
from .security import BodyLimit, HeadAsGet, outermost
from .settings import Settings, get_settings, resolve_device

log = logging.getLogger("convscope")

_ROUTERS = [health.router, ops.router, pages.router, docs.router, images.router, lab.router, views.router,
            arithmetic.router, exercises.router, course.router, course.fcn_router, models.router]


class _App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # CORS and the security headers go around Starlette's error middleware, so that a 500 carries them too.
        settings: Settings = self.state.settings
        return outermost(super().build_middleware_stack(), settings.frame_ancestors, settings.cors_origins)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start-up: the worker threads, then every built-in image at every work size, made in them while the
    server already answers (a request for a sample not made yet makes its own, off the loop too).
    Shutdown: the threads stop once their running jobs finish (the compute pool first: its jobs use the PNG
    threads)."""
    gate: ComputeGate = app.state.gate
    gate.open()
    PNG_THREADS.open()
    try:
        cache: SampleCache = app.state.samples
        async with anyio.create_task_group() as tg:
            tg.start_soon(_fill, gate, cache)
            yield
            tg.cancel_scope.cancel()
    finally:
        gate.close()
        PNG_THREADS.close()


async def _fill(gate: ComputeGate, cache: SampleCache) -> None:
    async with anyio.create_task_group() as tg:
        for size in cache.sizes:
            tg.start_soon(gate.offload, cache.fill_size, size)
    cache.filled.set()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    allocator.tune()  # feature maps reuse freed memory instead of faulting in fresh pages (allocator.py)
    # Each of max_concurrency jobs gets its share of the cores: more threads than cores makes OpenMP's
    # workers spin-wait on each other, and a 2-core machine then runs a pipeline several times slower.
    torch.set_num_threads(settings.torch_threads or max(1, (os.cpu_count() or 1) // settings.max_concurrency))
    app = _App(
        title="convscope",
        docs_url=None,  # /docs is our own page: the stock one loads its script from a CDN
        redoc_url=None,
        version=__version__,
        lifespan=lifespan,
        summary="Exact shapes, values, gradients and receptive fields of convolution arithmetic.",
        description="The v1 JSON API. conv2d is cross-correlation, as in torch. Errors come in one envelope: "
                    '{"ok": false, "status": ..., "error": "<sentence>", "errors": [...]}.',
    )
    app.state.settings = settings
    app.state.device = resolve_device(settings.device)
    app.state.gate = ComputeGate(settings.max_concurrency, settings.max_queue, settings.queue_timeout_s)
    app.state.images = ImageStore(settings.image_cache_bytes)
    app.state.models = ModelStore(settings.model_cache_bytes)
    app.state.weights = WeightsStore(settings.weights_cache_bytes)
    app.state.samples = SampleCache(settings.image_max_side)  # filled at start-up (lifespan)
    app.state.assets = assets = AssetTable()
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals.update(static_url=assets.url, module_script=assets.page_script,
                                 plotly_url=assets.plotly_url, version=__version__)
    app.state.templates = templates
    install_error_handlers(app, max_body_bytes=settings.max_body_bytes)
    for router in _ROUTERS:
        app.include_router(router)
    # the API's paths, as /openapi.json lists them, written into every page: the page asks what the server offers
    # without fetching and parsing the whole spec before its first drawing (the spec is built once and kept)
    templates.env.globals["api_paths"] = lambda: " ".join(p for p in app.openapi()["paths"] if p.startswith("/api/"))
    app.mount("/static", MemoryStatic(STATIC_DIR, assets.bundler), name="static")
    # Streamed feature maps are incompressible and must reach the page frame by frame; a body worth
    # compressing is compressed in the side pool (compression.py).
    app.add_middleware(GZip, pool=app.state.gate.side, minimum_size=1024,
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, FRAMES_MEDIA_TYPE))
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes,
                       uploads={"/api/v1/models/*/weights": settings.max_weights_bytes,
                                "/api/v1/models": settings.max_model_bytes})
    app.add_middleware(HeadAsGet)
    log.info("convscope %s computing on %s", __version__, app.state.device)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn convscope.app:app` builds the app on first access, not at import time.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
