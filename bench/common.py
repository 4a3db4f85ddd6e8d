"""Helpers the benchmarks share: a real server on loopback and a bounded HTTP load loop."""
from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Row:
    """One line of `python -m bench`'s table: which benchmark, what, the measured value, and its ratio."""

    bench: str
    measure: str
    value: str
    ratio: str


@dataclass(frozen=True)
class Served:
    url: str
    proc: subprocess.Popen[bytes]


async def post_read(url: str, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
    """POST `body` over a connection of its own and read the answer whole: (status, body). A lean HTTP/1.1
    client (Content-Length or chunked answers), for benchmarks whose client shares the server's cores: httpx's
    parsing of a burst's answers took as much CPU as the server spent on them, and the figures were the client's."""
    host, _, port = url.removeprefix("http://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port or 80), limit=1 << 20)
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        if "content-length" in headers:
            return status, await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() != "chunked":
            return status, await reader.read()
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")  # the empty trailer
        return status, b"".join(parts)
    finally:
        writer.close()


@contextlib.contextmanager
def serve_process(workers: int = 1, env: dict[str, str] | None = None, ready_s: float = 60.0) -> Iterator[Served]:
    """Start `python -m convscope` on 127.0.0.1, wait until it answers, and stop it (and its workers) afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "convscope", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning"], cwd=ROOT,
                            env=dict(os.environ, CONVSCOPE_DEVICE="cpu", **(env or {})))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {ready_s:g} s (exit code {proc.poll()})")
            time.sleep(0.2)
        yield Served(url, proc)
    finally:
        proc.terminate()  # uvicorn's supervisor passes SIGTERM on to its workers
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def serve(workers: int = 1, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `python -m convscope` on 127.0.0.1 and stop it afterwards; yields its base URL."""
    with serve_process(workers, env) as served:
        yield served.url


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..1); NaN for an empty one."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))]


async def _load(url: str, method: str, path: str, body: dict | None, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:  # bounded: stops by itself
                t0 = time.perf_counter()
                r = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "requests": len(latencies), "errors": errors,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}


def load(url: str, method: str, path: str, body: dict | None = None, *, concurrency: int = 8,
         seconds: float = 5.0) -> dict:
    return asyncio.run(_load(url, method, path, body, concurrency, seconds))


def machine() -> str:
    return f"{platform.node()} · {os.cpu_count()} cores · {platform.processor() or platform.machine()} · Python {platform.python_version()}"
