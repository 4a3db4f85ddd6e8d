"""Shared fixtures: one app per test session, an in-process client, and a real server on loopback."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hsettings

from convscope.app import create_app
from convscope.settings import Settings
from tests import live

# The fuzz run's case tally is a plugin of the whole session, so that the xdist controller, which
# collects nothing itself, still adds up the workers' counts and enforces the minimum.
pytest_plugins = ["tests.fuzz.tally"]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

hsettings.register_profile("ci", deadline=None, print_blob=True)
hsettings.load_profile("ci")


@pytest.fixture(scope="session")
def app():
    return create_app(Settings(device="cpu"))


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """A real uvicorn process on 127.0.0.1, as users run it."""
    with live.live_server() as server:
        yield server.url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
