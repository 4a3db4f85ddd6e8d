"""gzip of JSON responses: the same bytes as Starlette's, and a body worth compressing is compressed in the
app's side pool, never on the event loop's thread."""
from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.middleware.gzip import GZipResponder

from convscope.app import create_app
from convscope.compression import OFFLOAD_BYTES
from convscope.settings import Settings


@pytest.fixture()
def compressions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(body bytes, thread name) of every compression the app makes."""
    seen: list[tuple[int, str]] = []
    real = GZipResponder._compress_body

    def recorded(self: GZipResponder, body: bytes, more_body: bool) -> bytes:
        seen.append((len(body), threading.current_thread().name))
        return real(self, body, more_body)

    monkeypatch.setattr(GZipResponder, "_compress_body", recorded)
    return seen


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(device="cpu"))) as c:
        yield c


def _raw_gzip(client: TestClient, path: str) -> tuple[Any, bytes]:
    """The response to a gzip-accepting GET, and its body as sent (not decoded by the client)."""
    with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as r:
        return r, b"".join(r.iter_raw())


@pytest.mark.parametrize("path", ["/openapi.json", "/api/v1/layers"])
def test_a_large_json_body_is_gzipped_in_the_side_pool(client: TestClient, compressions: list[tuple[int, str]],
                                                       path: str) -> None:
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert len(plain.content) >= OFFLOAD_BYTES  # the case under test: a body worth a thread
    assert not compressions
    r, raw = _raw_gzip(client, path)
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content  # the same JSON, byte for byte
    assert [n for n, _ in compressions] == [len(plain.content)]
    name = compressions[0][1]
    assert name.startswith("convscope-side"), f"compressed in {name!r}, not in the app's side pool"
    assert name != threading.main_thread().name


def test_a_small_body_is_gzipped_where_it_is(client: TestClient, compressions: list[tuple[int, str]]) -> None:
    plain = client.get("/api/v1/kernels", headers={"Accept-Encoding": "identity"})
    assert 1024 <= len(plain.content) < OFFLOAD_BYTES
    r, raw = _raw_gzip(client, "/api/v1/kernels")
    assert r.headers["content-encoding"] == "gzip" and gzip.decompress(raw) == plain.content
    assert len(compressions) == 1 and not compressions[0][1].startswith("convscope-side")


def test_the_pipeline_stays_uncompressed_and_below_a_kibibyte_nothing_is_compressed(
        client: TestClient, compressions: list[tuple[int, str]]) -> None:
    health = client.get("/api/v1/health", headers={"Accept-Encoding": "gzip"})
    assert health.status_code == 200 and "content-encoding" not in health.headers
    r = client.post("/api/v1/pipeline", headers={"Accept-Encoding": "gzip"}, json={
        "image": {"sample": "camera"}, "image_max_side": 64, "layers": [{"op": "relu"}]})
    assert r.status_code == 200, r.text
    assert r.headers.get("content-encoding") == "identity" and r.json()["ok"] is True
    assert not compressions
