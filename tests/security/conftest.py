"""Fixtures for the security tests: apps built from chosen Settings, and a real server configured by env vars."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSCOPE_")}
    return env | {"CONVSCOPE_DEVICE": "cpu", "PYTHONUNBUFFERED": "1"} | extra


@pytest.fixture(scope="session")
def configured_server() -> Iterator[str]:
    """`python -m server` on 127.0.0.1 with LIVE_ENV, as a deployer would start it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, env=server_env(**LIVE_ENV))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("the configured server did not start within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def html_routes() -> list[str]:
    """Every GET route without path parameters that answers with an HTML page, from every router the app serves."""
    from fastapi.responses import HTMLResponse
    from fastapi.routing import APIRoute

    from server.app import _ROUTERS

    return sorted(r.path for router in _ROUTERS for r in router.routes
                  if isinstance(r, APIRoute) and "GET" in r.methods and "{" not in r.path
                  and r.response_class is HTMLResponse)
