"""CORS is off unless origins are configured; then exactly those origins may call the API from a browser."""
from __future__ import annotations

import httpx
import pytest

from convscope.settings import Settings

from .conftest import GRADER

CONV = {"input": [[[[1.0, 2.0], [3.0, 4.0]]]], "weight": [[[[1.0]]]]}
NOTEBOOK = "http://localhost:8888"
OTHERS = [
    pytest.param("https://evil.example", id="unrelated"),
    pytest.param("https://grader.example.edu.evil.example", id="suffix-trick"),
    pytest.param("http://grader.example.edu", id="other-scheme"),
    pytest.param("https://grader.example.edu:8443", id="other-port"),
    pytest.param("null", id="null-origin"),
]


def preflight(client, origin: str, method: str = "POST", headers: str = "content-type") -> httpx.Response:
    return client.options("/api/v1/ops/conv2d", headers={"origin": origin, "access-control-request-method": method,
                                                          "access-control-request-headers": headers})


@pytest.fixture(scope="module")
def cors_client(make_client):
    return make_client(cors_origins=(GRADER, NOTEBOOK))


def test_off_by_default_no_allow_origin(client) -> None:
    for response in (client.get("/api/v1/health", headers={"origin": GRADER}),
                     client.post("/api/v1/ops/conv2d", json=CONV, headers={"origin": GRADER})):
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers


def test_off_by_default_preflight_is_not_honoured(client) -> None:
    response = preflight(client, GRADER)
    assert response.status_code == 405 and response.json()["ok"] is False
    assert not any(h.startswith("access-control-") for h in response.headers)


@pytest.mark.parametrize("origin", [pytest.param(GRADER, id="grader"), pytest.param(NOTEBOOK, id="notebook")])
def test_configured_origin_may_call(cors_client, origin: str) -> None:
    response = cors_client.post("/api/v1/ops/conv2d", json=CONV, headers={"origin": origin})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
    assert "origin" in response.headers["vary"].lower()
    response = preflight(cors_client, origin)
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()


def test_configured_origin_can_read_the_error_sentence(cors_client) -> None:
    """A grader page must see the 413/422 envelope, not an opaque CORS failure."""
    big = b" " * (17 * 1024 * 1024)
    for response in (cors_client.post("/api/v1/ops/conv2d", json={"input": []}, headers={"origin": GRADER}),
                     cors_client.post("/api/v1/ops/conv2d", content=big,
                                      headers={"origin": GRADER, "content-type": "application/json"})):
        assert response.status_code in (413, 422) and response.json()["ok"] is False
        assert response.headers["access-control-allow-origin"] == GRADER


@pytest.mark.parametrize("origin", OTHERS)
def test_other_origins_are_refused(cors_client, origin: str) -> None:
    response = cors_client.get("/api/v1/health", headers={"origin": origin})
    assert "access-control-allow-origin" not in response.headers
    response = preflight(cors_client, origin)
    assert response.status_code == 403 and "access-control-allow-origin" not in response.headers
    body = response.json()
    assert body["ok"] is False and body["status"] == 403 and "CONVSCOPE_CORS_ORIGINS" in body["error"]
    assert origin not in response.text


@pytest.mark.parametrize(("method", "headers", "fragment"), [
    pytest.param("DELETE", "content-type", "GET or POST", id="method"),
    pytest.param("POST", "content-type, x-secret", "Content-Type header", id="header"),
])
def test_preflight_for_what_the_api_does_not_take_is_refused(cors_client, method, headers, fragment) -> None:
    response = preflight(cors_client, GRADER, method, headers)
    assert response.status_code == 403 and fragment in response.json()["error"]


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(f"{GRADER}, {NOTEBOOK}", (GRADER, NOTEBOOK), id="two"),
    pytest.param("HTTPS://Grader.Example.EDU:443", (GRADER,), id="case-and-default-port"),
    pytest.param("*", ("*",), id="any"),
    pytest.param("", (), id="empty-is-off"),
])
def test_read_from_the_environment(value: str, expected: tuple[str, ...]) -> None:
    assert Settings.from_env({"CONVSCOPE_CORS_ORIGINS": value}).cors_origins == expected


@pytest.mark.parametrize(("value", "why"), [
    pytest.param(f"{GRADER}/", "without the trailing '/'", id="trailing-slash"),
    pytest.param(f"{GRADER}/grade", "has no path", id="path"),
    pytest.param("grader.example.edu", "scheme://host", id="no-scheme"),
    pytest.param(f"{GRADER}; script-src *", "start another", id="semicolon"),
    pytest.param(f"{GRADER}\r\nX-Injected: 1", "line break", id="crlf"),
    pytest.param(f"*, {GRADER}", "either '*'", id="star-and-list"),
])
def test_bad_origin_is_refused_with_a_sentence(value: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        Settings(cors_origins=tuple(value.split(",")))
    assert "CONVSCOPE_CORS_ORIGINS" in str(info.value) and why in str(info.value), str(info.value)


def test_configured_server_allows_the_grader_only(configured_server: str) -> None:
    with httpx.Client(base_url=configured_server, timeout=30) as http:
        ok = preflight(http, GRADER)
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == GRADER
        assert http.post("/api/v1/ops/conv2d", json=CONV,
                         headers={"origin": GRADER}).headers["access-control-allow-origin"] == GRADER
        refused = preflight(http, "https://evil.example")
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
