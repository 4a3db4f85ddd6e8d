"""No user text (paths, op names, query strings, JSON values, file names, headers) comes back as HTML.

An answer that repeats what the user sent is JSON with nosniff, which a browser never renders as a page,
or a page where Jinja escaped it; no response is text/html with the raw payload in it.
"""
from __future__ import annotations

import io
import json
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

from .conftest import html_routes

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"  # no '/', so it fits in one path segment
Z = [[[[0.0] * 3] * 3]]
CONV = {"input": Z, "weight": [[[[1.0]]]]}


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def _json(body: object) -> dict:
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


CASES = [
    # (id, method, path, request kwargs, payload)
    ("path-api", "GET", f"/api/v1/{SCRIPT}", {}, SCRIPT),
    ("path-root", "GET", f"/{SCRIPT}", {}, SCRIPT),
    ("path-under-page", "GET", f"/conv/{IMG}", {}, IMG),
    ("path-static", "GET", f"/static/{IMG}", {}, IMG),
    ("path-vendor", "GET", f"/vendor/{IMG}", {}, IMG),
    ("op-name", "POST", f"/api/v1/ops/{quote(IMG)}", _json(CONV), IMG),
    ("preset-id", "GET", f"/api/v1/presets/{quote(IMG)}", {}, IMG),
    ("sample-name", "GET", f"/api/v1/samples/{quote(IMG)}", {}, IMG),
    ("sample-png", "GET", f"/api/v1/samples/{quote(IMG)}/png", {}, IMG),
    ("image-id", "GET", f"/api/v1/images/{quote(IMG)}", {}, IMG),
    ("image-png", "GET", f"/api/v1/images/{quote(IMG)}/png", {}, IMG),
    ("wrong-method", "PUT", f"/api/v1/ops/{quote(IMG)}", {}, IMG),
    ("query-api", "GET", "/api/v1/health", {"params": {SCRIPT: SCRIPT}}, SCRIPT),
    ("exercise-kind", "POST", "/api/v1/exercises", _json({"kind": SCRIPT, "seed": 1}), SCRIPT),
    ("grade-kind", "POST", "/api/v1/exercises/grade", _json({"kind": IMG, "seed": 1, "answer": [1]}), IMG),
    ("padding-mode", "POST", "/api/v1/ops/conv2d", _json(CONV | {"padding_mode": SCRIPT}), SCRIPT),
    ("unknown-field", "POST", "/api/v1/ops/conv2d", _json(CONV | {SCRIPT: 1}), SCRIPT),
    ("tensor-element", "POST", "/api/v1/ops/conv2d", _json(CONV | {"input": [[[[SCRIPT]]]]}), SCRIPT),
    ("layer-op", "POST", "/api/v1/shapes", _json({"input_shape": [1, 4, 4], "layers": [{"op": IMG}]}), IMG),
    ("unit-layer", "POST", "/api/v1/receptive-field",
     _json({"input_size": [8, 8], "layers": [{"op": "conv2d", "kernel_size": 3}], "unit": {"layer": IMG}}), IMG),
    ("not-json", "POST", "/api/v1/ops/conv2d", {"content": SCRIPT.encode(),
                                                "headers": {"content-type": "application/json"}}, SCRIPT),
    ("content-type", "POST", "/api/v1/ops/conv2d", {"content": b"{}", "headers": {"content-type": IMG}}, IMG),
    ("upload-name-junk", "POST", "/api/v1/images", {"files": {"file": (f"{SCRIPT}.png", b"junk", "image/png")}},
     SCRIPT),
    ("upload-name-png", "POST", "/api/v1/images", {"files": {"file": (f"{IMG}.png", _png(), "image/png")}}, IMG),
    ("upload-html-body", "POST", "/api/v1/images",
     {"files": {"file": ("page.html", f"<html>{SCRIPT}</html>".encode(), "text/html")}}, SCRIPT),
]
PARAMS = [pytest.param(*case[1:], id=case[0]) for case in CASES]


def assert_not_reflected(response: httpx.Response, payload: str) -> None:
    kind = response.headers.get("content-type", "")
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert not (kind.startswith("text/html") and payload in response.text), "raw payload in an HTML page"
    assert response.headers["x-content-type-options"] == "nosniff"
    if response.status_code >= 400:
        assert kind.startswith("application/json"), f"a {response.status_code} answered as {kind!r}"
        body = response.json()
        assert body["ok"] is False and body["status"] == response.status_code and body["error"]
    elif not kind.startswith(("application/json", "text/html")):
        assert payload.encode() not in response.content


@pytest.mark.parametrize(("method", "path", "kwargs", "payload"), PARAMS)
def test_user_text_is_never_html(client, method, path, kwargs, payload) -> None:
    assert_not_reflected(client.request(method, path, **kwargs), payload)


@pytest.mark.parametrize("path", [pytest.param(p, id=p) for p in html_routes()])
def test_query_strings_on_pages_are_escaped(client, path: str) -> None:
    response = client.get(path, params={"op": SCRIPT, "image": IMG, SCRIPT: IMG})
    assert response.status_code == 200
    assert SCRIPT not in response.text and IMG not in response.text
    assert_not_reflected(response, SCRIPT)


def test_image_ids_stay_hex(client) -> None:
    """An uploaded file's name is not its id: the id is a content hash, so nothing of the name comes back."""
    response = client.post("/api/v1/images", files={"file": (f"{IMG}.png", _png(), "image/png")})
    assert response.status_code == 200
    image_id = response.json()["id"]
    assert all(c in "0123456789abcdef" for c in image_id), image_id
    assert "onerror" not in response.text


def test_nothing_reflected_over_real_http(configured_server: str) -> None:
    with httpx.Client(base_url=configured_server, timeout=30) as http:
        for case_id, method, path, kwargs, payload in CASES:
            try:
                assert_not_reflected(http.request(method, path, **kwargs), payload)
            except AssertionError as err:
                raise AssertionError(f"{case_id}: {err}") from err
        assert http.get("/api/v1/health").json()["ok"] is True
