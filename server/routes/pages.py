"""The HTML pages and the vendored Plotly.js."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from ..core.ops import OPS
from ..embed import embedded

router = APIRouter(include_in_schema=False)


def render(request: Request, template: str, **context: object) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, template, {"ops": OPS, **context})


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return render(request, "index.html", title="convscope")


# The animator's views: address -> (template and JS module name, title).
VIEWS: dict[str, tuple[str, str]] = {
    "/conv": ("conv", "Convolution"),
    "/transpose": ("transpose", "Transposed convolution"),
    "/pool": ("pool", "Pooling, unpooling, upsampling"),
    "/matrices": ("matrices", "im2col and the Toeplitz matrix"),
    "/receptive-field": ("receptive", "Receptive field"),
    "/backprop": ("backprop", "Backpropagation"),
    "/fully-convolutional": ("fcn", "Fully convolutional"),
    "/equivariance": ("equivariance", "Equivariance"),
}


# The GET answers a view's first drawing waits on, written into its page (embed.py): no round trip before it draws.
EMBEDDED: dict[str, tuple[str, ...]] = {
    "receptive": ("/presets", "/layers", "/models"),
}


def _view_page(view: str, title: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def page(request: Request) -> HTMLResponse:
        data = await embedded(request, EMBEDDED[view]) if view in EMBEDDED else ""
        return render(request, f"{view}.html", title=title, view=view, embedded=data)

    page.__name__ = f"page_{view}"
    return page


for _path, (_view, _title) in VIEWS.items():
    router.add_api_route(_path, _view_page(_view, _title), methods=["GET"], response_class=HTMLResponse)


@router.get("/vendor/{name}")
async def vendor(name: str, request: Request) -> Response:
    assets = request.app.state.assets
    if f"/vendor/{name}" != assets.plotly_url():
        raise HTTPException(404)  # the envelope, as for any unknown path
    asset = assets.plotly
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers | {"Content-Encoding": "gzip"})
    return Response(asset.body, media_type=asset.media_type, headers=headers)
