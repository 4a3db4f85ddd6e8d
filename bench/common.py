"""Helpers the benchmarks share: a real server on loopback and a bounded HTTP load loop."""
from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(workers: int = 1, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `python -m server` on 127.0.0.1 and stop it afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning"], cwd=ROOT,
                            env=dict(os.environ, CONVSCOPE_DEVICE="cpu", **(env or {})))
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


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
