"""/docs: the API reference, rendered on the server from the OpenAPI spec (no CDN; static/js/docs.js only filters it)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .pages import render

router = APIRouter(include_in_schema=False)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


def _type_text(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_text(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items") or {}
        return f"array of {_type_text(items)}" if items else "nested array"
    return kind


def _fields(spec: dict[str, Any], schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not schema:
        return []
    schema = _resolve(spec, schema)
    required = set(schema.get("required", []))
    return [{"name": name, "type": _type_text(prop), "required": name in required,
             "default": prop.get("default"), "description": prop.get("description", "")}
            for name, prop in schema.get("properties", {}).items()]


def endpoints(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {})
            body_schema = next(iter(body.values()), {}).get("schema") if body else None
            ok = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
            out.append({"path": path, "method": method.upper(), "summary": op.get("summary", ""),
                        "description": op.get("description", ""), "tag": (op.get("tags") or ["pages"])[0],
                        "body": _fields(spec, body_schema), "response": _fields(spec, ok.get("schema")),
                        "errors": sorted(k for k in op.get("responses", {}) if k != "200")})
    return out


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return render(request, "docs.html", title="API reference", spec=spec, endpoints=endpoints(spec))
