"""The API's answers to a page's first GET requests, written into the page as JSON in <meta> elements.

A page whose first drawing waits on GET /api/v1/layers, /presets, /models ... would otherwise fetch them only once
its scripts run, one round trip (or several, one after another) before it can draw. The server asks itself instead,
in process, through the whole app (middleware included): what the page reads is the API's answer byte for byte, and
static/js/api.js's get() takes it in place of the first fetch of that path. The JSON is an attribute's value, as the
API's paths are (<meta name="api-paths">): no script element of any kind is written into a page (the CSP refuses
inline scripts, and the pages are checked for any). A GET that does not answer 200 is left out: the page fetches it.
"""
from __future__ import annotations

import asyncio

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.types import Message

PREFIX = "/api/v1"


async def api_get(request: Request, path: str) -> bytes | None:
    """The body of GET /api/v1{path} from this app (no network), or None unless it answers 200 with JSON."""
    full = PREFIX + path
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": request.url.scheme, "path": full, "raw_path": full.encode(),
             "root_path": "", "query_string": b"", "client": request.scope.get("client"),
             "server": request.scope.get("server"), "state": dict(request.scope.get("state") or {}),
             "headers": [(b"host", request.headers.get("host", "localhost").encode()), (b"accept", b"application/json")]}
    start: dict[str, object] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)
    headers = dict(start.get("headers") or [])
    if start.get("status") != 200 or not headers.get(b"content-type", b"").startswith(b"application/json"):
        return None
    return b"".join(chunks)


async def embedded(request: Request, paths: tuple[str, ...]) -> Markup:
    """<meta name="api-get" data-path="{path}" content="{the JSON, escaped}">, one per path that answered."""
    bodies = await asyncio.gather(*(api_get(request, p) for p in paths))
    return Markup("".join(f'<meta name="api-get" data-path="{escape(path)}" content="{escape(body.decode("utf-8"))}">'
                          for path, body in zip(paths, bodies) if body is not None))
