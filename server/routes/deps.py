"""Shared pieces of every router: the app state they read, and the error responses they document."""
from __future__ import annotations

from typing import Any

from fastapi import Request

from ..compute import ComputeGate
from ..core.exceptions import Unsupported
from ..responses import JSONResponse
from ..schemas import ErrorResponse
from ..settings import Settings

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((404, "Unknown id or op"), (413, "Body or output past the limits"),
                       (415, "Unsupported media type"), (422, "Invalid request: the sentence says why"),
                       (503, "Busy: retry after the Retry-After seconds"))
}


#: The same, for routes whose own response is not JSON (a PNG): the envelope is still JSON.
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": spec["description"],
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    for code, spec in ERRORS.items()
}


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def gate_of(request: Request) -> ComputeGate:
    return request.app.state.gate


def device_of(request: Request) -> str:
    return request.app.state.device


def require_json(request: Request) -> None:
    """JSON endpoints refuse other media types with 415 (a missing Content-Type is read as JSON)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise Unsupported(f"This endpoint reads JSON; the body was sent as {kind!r}. "
                          "Send it with Content-Type: application/json.", ["content-type"])


async def rendered(request: Request, body: dict[str, Any], **kwargs: Any) -> JSONResponse:
    """A computed result as a JSON response, serialised in a worker thread (a big one takes a while)."""
    return await gate_of(request).offload(JSONResponse, body, **kwargs)
