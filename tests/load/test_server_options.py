"""`python -m convscope` passes the deployer's settings to uvicorn, and uvicorn honours them."""
from __future__ import annotations

import contextlib
import socket
import time

import pytest
import uvicorn

from convscope.__main__ import BACKLOG, H11_MAX_HEADER_BYTES, uvicorn_options
from convscope.settings import Settings
from tests.live import live_server


def test_settings_reach_uvicorn() -> None:
    settings = Settings(keep_alive_s=7, max_connections=300, graceful_shutdown_s=4, http="h11")
    options = uvicorn_options(settings)
    config = uvicorn.Config("convscope.app:app", **options)  # uvicorn accepts every option under its own name
    assert (config.timeout_keep_alive, config.limit_concurrency, config.timeout_graceful_shutdown) == (7, 300, 4)
    assert config.http == "h11" and config.backlog == BACKLOG and config.ws == "none"
    assert config.h11_max_incomplete_event_size == H11_MAX_HEADER_BYTES


def _read_response(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += s.recv(65536)
    return head


def _response_then_wait(port: int, wait_s: float) -> tuple[bytes, bytes]:
    """One keep-alive request, then what the socket yields after `wait_s` idle: b"" once the server closed it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = _read_response(s)
        time.sleep(wait_s)
        s.settimeout(0.5)
        try:
            later = s.recv(65536)
        except TimeoutError:
            later = b"(still open)"
    return first, later


@pytest.mark.parametrize("env,wait_s,closed", [
    pytest.param({"CONVSCOPE_KEEP_ALIVE_S": "1"}, 3.0, True, id="httptools-idle-past-keep-alive-is-closed"),
    pytest.param({"CONVSCOPE_KEEP_ALIVE_S": "30", "CONVSCOPE_HTTP": "h11"}, 1.5, False,
                 id="h11-idle-within-keep-alive-stays-open"),
])
def test_keep_alive_and_parser_come_from_the_environment(env: dict[str, str], wait_s: float, closed: bool) -> None:
    with live_server(env) as server:
        first, later = _response_then_wait(server.port, wait_s)
        assert first.startswith(b"HTTP/1.1 200")
        assert (later == b"") is closed, later
        if env.get("CONVSCOPE_HTTP") == "h11":
            _assert_header_cap(server.port)


def _assert_header_cap(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        # h11 checks the cap while a request is incomplete: send past it, pause, then finish.
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (H11_MAX_HEADER_BYTES + 4096))
        time.sleep(0.5)
        with contextlib.suppress(OSError):  # the server may already have closed the connection
            s.sendall(b"a" * 1024 + b"\r\n\r\n")
        answer = s.recv(200)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
