"""A client that goes away mid-request: the server stays up, answers the next request, and keeps every compute slot.

One compute slot and a one-job queue with a 2 s wait: were a slot leaked, the probes after each
case would be refused with 503 instead of answered.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.live import LiveServer, live_server

from .helpers import BOUNDARY, TINY_CONV, multipart, png, raw_send

UPLOAD = multipart(png(1, side=256))
PIPELINE = (b'{"image": {"sample": "checkerboard"}, "layers": [{"op": "conv2d", "kernel": "sobel_x", "padding": 1}, '
            b'{"op": "relu"}, {"op": "max_pool2d", "kernel_size": 2}], "max_side": 256}')


def _head(path: str, kind: str, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n{framing}\r\n\r\n".encode()


def _upload_head(length: int | None = len(UPLOAD)) -> bytes:
    return _head("/api/v1/images", f"multipart/form-data; boundary={BOUNDARY}", length)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


CASES = [
    pytest.param(_upload_head(), b"", id="upload-headers-only"),
    pytest.param(_upload_head(), UPLOAD[:120], id="upload-part-headers"),
    pytest.param(_upload_head(), UPLOAD[: len(UPLOAD) // 2], id="upload-half-the-file"),
    pytest.param(_upload_head(), UPLOAD[:-8], id="upload-all-but-the-closing-boundary"),
    pytest.param(_upload_head(None), _chunk(UPLOAD[:4000]) + _chunk(UPLOAD[4000:9000]), id="upload-chunked-partial"),
    pytest.param(_head("/api/v1/pipeline", "application/json", len(PIPELINE)), PIPELINE[:40], id="pipeline-half-json"),
    pytest.param(_head("/api/v1/pipeline", "application/json", len(PIPELINE)), PIPELINE, id="pipeline-left-while-computing"),
]


def _gate_settles(client: httpx.Client, within_s: float = 30.0) -> dict[str, int]:
    """The compute gate's running/waiting counts once the abandoned request is done with (/health reports them)."""
    deadline = time.monotonic() + within_s
    while True:
        r = client.get("/api/v1/health")
        assert r.status_code == 200
        gate = {k: r.json()["compute"][k] for k in ("running", "waiting")}
        if gate == {"running": 0, "waiting": 0} or time.monotonic() > deadline:
            return gate
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server({"CONVSCOPE_MAX_CONCURRENCY": "1", "CONVSCOPE_MAX_QUEUE": "1",
                      "CONVSCOPE_QUEUE_TIMEOUT_S": "2"}) as srv:
        yield srv


@pytest.mark.parametrize("head,body", CASES)
def test_server_survives_a_client_that_leaves(server: LiveServer, head: bytes, body: bytes) -> None:
    raw_send(server.port, head, body)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert _gate_settles(client) == {"running": 0, "waiting": 0}
        for _ in range(3):  # one slot: a leaked one would make these wait 2 s and answer 503
            r = client.post("/api/v1/ops/conv2d", json=TINY_CONV)
            assert r.status_code == 200, r.text
        up = client.post("/api/v1/images", files={"file": ("b.png", png(2), "image/png")})
        assert up.status_code == 200, up.text
        run = client.post("/api/v1/pipeline", json={"image": {"id": up.json()["id"]},
                                                    "layers": [{"op": "relu"}], "max_side": 64})
        assert run.status_code == 200, run.text
    assert server.proc.poll() is None
    log = server.log()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]
