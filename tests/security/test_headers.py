"""Every response, page or API, success or error, the 500 page included, carries the security headers."""
from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from convscope.app import create_app
from convscope.settings import Settings

from .conftest import COURSE, html_routes

CONV = {"input": [[[[1.0, 2.0], [3.0, 4.0]]]], "weight": [[[[1.0]]]]}

REQUESTS = [
    # (id, method, path, request kwargs, status)
    ("health", "GET", "/api/v1/health", {}, 200),
    ("op", "POST", "/api/v1/ops/conv2d", {"json": CONV}, 200),
    ("presets", "GET", "/api/v1/presets", {}, 200),
    ("openapi", "GET", "/openapi.json", {}, 200),
    ("static-css", "GET", "/static/css/app.css", {}, 200),
    ("sample-png", "GET", "/api/v1/samples/checkerboard/png", {}, 200),
    ("not-found", "GET", "/api/v1/nothing", {}, 404),
    ("static-not-found", "GET", "/static/nothing.js", {}, 404),
    ("vendor-not-found", "GET", "/vendor/plotly-0.js", {}, 404),
    ("wrong-method", "DELETE", "/api/v1/health", {}, 405),
    ("preflight-cors-off", "OPTIONS", "/api/v1/ops/conv2d",
     {"headers": {"origin": COURSE, "access-control-request-method": "POST"}}, 405),
    ("too-large", "POST", "/api/v1/ops/conv2d", {"content": b" " * (17 * 1024 * 1024),
                                                 "headers": {"content-type": "application/json"}}, 413),
    ("not-json-media", "POST", "/api/v1/ops/conv2d", {"content": b"a=1",
                                                      "headers": {"content-type": "text/plain"}}, 415),
    ("invalid", "POST", "/api/v1/ops/conv2d", {"json": {"input": []}}, 422),
]
PARAMS = [pytest.param(*case[1:], id=case[0]) for case in REQUESTS]


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in parsed, f"{name} appears twice in {policy!r}"
        parsed[name] = values
    return parsed


def assert_secure(response: httpx.Response, frame_ancestors: list[str] | None = None) -> None:
    csp = directives(response.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"], "script-src must allow the app's own files and nothing inline"
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == (frame_ancestors or ["'self'"])
    assert not any("unsafe-eval" in v or "unsafe-inline" in v for k, vs in csp.items() if k != "style-src"
                   for v in vs), csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert len(response.headers.get_list("content-security-policy")) == 1


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), PARAMS)
def test_api_and_error_responses_carry_the_headers(client, method, path, kwargs, status) -> None:
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text[:300]
    assert_secure(response)


@pytest.mark.parametrize("path", [pytest.param(p, id=p) for p in html_routes()])
def test_pages_carry_the_headers(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert_secure(response)


def test_vendored_plotly_carries_the_headers(client) -> None:
    response = client.get(client.app.state.assets.plotly_url())
    assert response.status_code == 200 and response.headers["content-type"].startswith(("text/javascript",
                                                                                      "application/javascript"))
    assert_secure(response)


def test_a_bug_answers_500_in_the_envelope_with_the_headers() -> None:
    app = create_app(Settings(device="cpu"))

    @app.get("/api/v1/broken-on-purpose")
    def broken() -> None:
        raise RuntimeError("internal-detail-7f3a")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/api/v1/broken-on-purpose")
    assert response.status_code == 500
    assert response.json()["ok"] is False and "bug" in response.json()["error"]
    assert "internal-detail-7f3a" not in response.text  # the exception's text stays in the log
    assert_secure(response)


def test_headers_over_real_http(configured_server: str) -> None:
    with httpx.Client(base_url=configured_server, timeout=30) as http:
        for path in ("/", "/conv", "/api/v1/health", "/api/v1/nothing"):
            response = http.get(path, headers={"accept-encoding": "gzip"})
            assert_secure(response, ["'self'", COURSE])
