"""A JSON body past CONVSCOPE_MAX_BODY_BYTES is a 413 in the envelope, whether it declares its length or
streams in chunks, and the server keeps serving."""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import LIVE_ENV

CAP = 1024
CONV = {"input": [[[[1.0, 2.0], [3.0, 4.0]]]], "weight": [[[[1.0]]]]}
ENDPOINTS = [
    pytest.param("/api/v1/ops/conv2d", CONV, id="ops"),
    pytest.param("/api/v1/shapes", {"input_shape": [1, 4, 4], "layers": [{"op": "relu"}]}, id="shapes"),
    pytest.param("/api/v1/receptive-field", {"input_size": [4, 4], "layers": []}, id="receptive-field"),
    pytest.param("/api/v1/exercises", {"kind": "conv_output_shape", "seed": 1}, id="exercises"),
    pytest.param("/api/v1/exercises/grade", {"kind": "conv_output_shape", "seed": 1, "answer": [1, 1, 1, 1]},
                 id="grade"),
    pytest.param("/api/v1/views/transpose", CONV, id="views"),
]


def padded(body: object, size: int) -> bytes:
    """`body` as JSON, padded with trailing spaces (still valid JSON) to exactly `size` bytes."""
    data = json.dumps(body).encode()
    assert len(data) <= size
    return data + b" " * (size - len(data))


def chunks(data: bytes, n: int = 256) -> Iterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i:i + n]


def assert_413(response: httpx.Response, cap: int) -> None:
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["ok"] is False and body["status"] == 413
    assert f"larger than this endpoint accepts ({cap:,} bytes)" in body["error"]


@pytest.fixture(scope="module")
def small(make_client):
    return make_client(max_body_bytes=CAP)


@pytest.mark.parametrize(("path", "body"), ENDPOINTS)
def test_body_at_the_cap_is_served(small, path: str, body: object) -> None:
    response = small.post(path, content=padded(body, CAP), headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text[:300]


@pytest.mark.parametrize(("path", "body"), ENDPOINTS)
def test_declared_length_past_the_cap_is_413(small, path: str, body: object) -> None:
    response = small.post(path, content=padded(body, CAP + 1), headers={"content-type": "application/json"})
    assert_413(response, CAP)


@pytest.mark.parametrize(("path", "body"), ENDPOINTS)
def test_chunked_body_past_the_cap_is_413(small, path: str, body: object) -> None:
    response = small.post(path, content=chunks(padded(body, CAP + 1)), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_413(response, CAP)


def test_chunked_body_within_the_cap_is_served(small) -> None:
    response = small.post("/api/v1/ops/conv2d", content=chunks(padded(CONV, CAP), 100),
                          headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["shape"] == [1, 1, 2, 2]


def test_settings_cap_comes_from_the_environment() -> None:
    from convscope.settings import Settings

    assert Settings.from_env({"CONVSCOPE_MAX_BODY_BYTES": "4096"}).max_body_bytes == 4096


# Over a real socket, as a client that keeps sending would: the 413 comes back, then the server serves.
LIVE_CAP = int(LIVE_ENV["CONVSCOPE_MAX_BODY_BYTES"])


def _raw_request(url: str, head: str, body: bytes) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            data = sock.recv(65536)
            if not data:
                break
            received += data
        return received


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.parametrize("framing", [pytest.param("content-length", id="content-length"),
                                     pytest.param("chunked", id="chunked")])
def test_real_server_refuses_and_keeps_serving(configured_server: str, framing: str) -> None:
    # The client sends no more than the server reads before it answers (the first 4 KiB of a declared body,
    # chunks up to one byte past the cap), so that closing the connection cannot reset the answer away.
    data = padded(CONV, LIVE_CAP + 1)
    head = "POST /api/v1/ops/conv2d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if framing == "content-length":
        raw = _raw_request(configured_server, head + f"Content-Length: {10 * LIVE_CAP}\r\n", data[:4096])
    else:
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks(data, 4096))
        raw = _raw_request(configured_server, head + "Transfer-Encoding: chunked\r\n", body)
    status, envelope = _status_and_json(raw)
    assert status == 413 and envelope["ok"] is False
    assert f"({LIVE_CAP:,} bytes)" in envelope["error"]
    with httpx.Client(base_url=configured_server, timeout=30) as http:
        assert http.get("/api/v1/health").json()["ok"] is True
        ok = http.post("/api/v1/ops/conv2d", content=padded(CONV, LIVE_CAP),
                       headers={"content-type": "application/json"})
        assert ok.status_code == 200 and ok.json()["output"] == CONV["input"]
