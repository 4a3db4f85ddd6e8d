"""The one error envelope, built by one function, for every error path.

{"ok": false, "status": 422, "error": "<one human sentence>", "errors": [{"loc": [...], "msg": "..."}]}
"""
from __future__ import annotations

import logging
import typing
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .core.exceptions import ConvscopeError, closest
from .responses import JSONResponse

log = logging.getLogger("convscope")

_HTTP_SENTENCES = {
    404: "There is nothing at {path}; the API lives under /api/v1 (see /docs).",
    405: "{method} is not allowed on {path}; see /docs for the methods each endpoint takes.",
    413: "The request body is larger than this server accepts ({limit}).",
    415: "Unsupported media type: {detail}",
}


def error_body(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"ok": False, "status": status, "error": message, "errors": errors or [{"loc": [], "msg": message}]}


def error_response(status: int, message: str, errors: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, errors), status_code=status, headers=headers)


def _loc_text(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (itself, or inside Optional, Annotated, list, dict), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (model := _model_in(arg)) is not None:
            return model
    return None


def _names_at(request: Request, loc: tuple[Any, ...] | list[Any]) -> list[str] | None:
    """The keys the endpoint's body takes where `loc` (a body location ending in a key) points, read off the
    route's own request model: the names to suggest for a misspelt key. None where they cannot be known."""
    if not loc or loc[0] != "body":
        return None
    field = getattr(request.scope.get("route"), "body_field", None)
    model = _model_in(getattr(getattr(field, "field_info", None), "annotation", None))
    for part in loc[1:-1]:
        if model is None:
            return None
        if isinstance(part, int):
            continue  # an item of a list: the list's model is already in hand
        inner = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        model = _model_in(inner.annotation) if inner is not None else None
    if model is None:
        return None
    return [f.alias or name for name, f in model.model_fields.items()]


def _validation_sentence(err: dict[str, Any], names: list[str] | None = None) -> str:
    kind = err.get("type", "")
    where = _loc_text(err.get("loc", ()))
    if kind == "json_invalid":
        return f"The body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})."
    if kind == "missing":
        return f"{where} is required." if where != "body" else "A JSON body is required."
    if kind == "extra_forbidden":
        close = closest(err.get("loc", ())[-1] if err.get("loc") else where, names or [])
        if close is not None:
            return f"{where} is not a parameter of this endpoint; did you mean {close!r}? See /docs for the ones it takes."
        return f"{where} is not a parameter of this endpoint; see /docs for the ones it takes."
    shown = repr(err.get("input"))
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{where}: {err.get('msg', 'invalid value')} (got {shown})."


def _misspelt_first(request: Request, errs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A key that is a misspelling of a required one the body lacks leads: "kernal_size is not a parameter ...;
    did you mean 'kernel_size'?" teaches more than "kernel_size is required." (both stay in `errors`)."""
    missing = {tuple(e.get("loc", ())) for e in errs if e.get("type") == "missing"}

    def misspelt(e: dict[str, Any]) -> bool:
        loc = tuple(e.get("loc", ()))
        if e.get("type") != "extra_forbidden" or not loc:
            return False
        close = closest(loc[-1], _names_at(request, loc) or [])
        return close is not None and (*loc[:-1], close) in missing

    return sorted(errs, key=lambda e: not misspelt(e))  # stable: the rest keep pydantic's order


def _unreadable_json(exc: StarletteHTTPException) -> str | None:
    """The sentence for a JSON body that json.loads could not read for want of UTF-8 or of stack.

    FastAPI turns a JSONDecodeError into a 422, but any other failure of the decoder into a bare
    400 "There was an error parsing the body"; both are a body that is not JSON, so both are a 422.
    """
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return (f"The body is not valid JSON (JSON is UTF-8 text, and byte 0x{cause.object[cause.start]:02x} "
                f"at position {cause.start} is not UTF-8).")
    if isinstance(cause, RecursionError):
        return "The body is not valid JSON this server can read (its arrays or objects nest too deep)."
    return None


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not an API client): it gets the HTML 404 in the site's layout."""
    accept = request.headers.get("accept", "")
    return not request.url.path.startswith(("/api/", "/static/", "/vendor/")) and "text/html" in accept


def install_error_handlers(app: FastAPI, *, max_body_bytes: int) -> None:
    @app.exception_handler(ConvscopeError)
    async def _core(request: Request, exc: ConvscopeError) -> JSONResponse:
        headers = {"Retry-After": "2"} if exc.status == 503 else None
        return error_response(exc.status, exc.message, [{"loc": exc.loc, "msg": exc.message}], headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = _misspelt_first(request, list(exc.errors()))
        sentences = [_validation_sentence(e, _names_at(request, e.get("loc", ())) if e.get("type") == "extra_forbidden"
                                          else None) for e in errs] or ["The request is not valid."]
        detail = [{"loc": [p for p in e.get("loc", ()) if p != "body" and e.get("type") != "json_invalid"], "msg": s}
                  for e, s in zip(errs, sentences)]
        return error_response(422, sentences[0], detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and wants_page(request):
            return request.app.state.templates.TemplateResponse(request, "404.html", {"path": request.url.path},
                                                                 status_code=404)
        if (unreadable := _unreadable_json(exc)) is not None:
            return error_response(422, unreadable)
        template = _HTTP_SENTENCES.get(exc.status_code)
        if exc.status_code == 404 and isinstance(exc.detail, str) and exc.detail not in ("Not Found", ""):
            message = exc.detail
        elif template:
            message = template.format(path=request.url.path, method=request.method, detail=exc.detail,
                                      limit=f"{max_body_bytes:,} bytes")
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # The client closed the connection before its body arrived: no one reads this answer, and it is no bug.
        log.info("client left during %s %s", request.method, request.url.path)
        return error_response(400, "The connection closed before the whole request body arrived.")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "The server hit a bug computing this request; it has been logged.")
