"""Fixtures for the security tests: apps built from chosen Settings, and a real server configured by env vars."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from convscope.app import create_app
from convscope.settings import Settings
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[2]
GRADER = "https://grader.example.edu"
COURSE = "https://course.example.edu"
#: The real server's environment: a small body cap, one CORS origin, a course site allowed to embed.
LIVE_ENV = {"CONVSCOPE_MAX_BODY_BYTES": "65536", "CONVSCOPE_CORS_ORIGINS": GRADER,
            "CONVSCOPE_FRAME_ANCESTORS": f"'self' {COURSE}"}


@pytest.fixture(scope="session")
def make_client() -> Iterator[Callable[..., TestClient]]:
    """make_client(**settings): an in-process client of an app built from Settings(device="cpu", **settings)."""
    opened: list[TestClient] = []

    def make(**settings: object) -> TestClient:
        app = create_app(Settings(device="cpu", **settings))  # type: ignore[arg-type]
        c = TestClient(app, raise_server_exceptions=False)
        opened.append(c.__enter__())
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="session")
def configured_server() -> Iterator[str]:
    """`python -m convscope` on 127.0.0.1 with LIVE_ENV, as a deployer would start it."""
    with live_server(LIVE_ENV) as server:
        yield server.url


def html_routes() -> list[str]:
    """Every GET route without path parameters that answers with an HTML page, from every router the app serves."""
    from fastapi.responses import HTMLResponse
    from fastapi.routing import APIRoute

    from convscope.app import _ROUTERS

    return sorted(r.path for router in _ROUTERS for r in router.routes
                  if isinstance(r, APIRoute) and "GET" in r.methods and "{" not in r.path
                  and r.response_class is HTMLResponse)
