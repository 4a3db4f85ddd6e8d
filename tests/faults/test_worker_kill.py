"""A worker killed with SIGKILL under load (`python -m convscope --workers 2`): uvicorn's supervisor starts a new one.

uvicorn 0.54's supervisor checks its workers every 0.5 s and replaces one that has died
(uvicorn/supervisors/multiprocess.py, keep_subprocess_alive), so the server relies on it. A killed
worker takes down only the requests it was holding: at most one per client connection, and as a
dropped connection, never a 5xx.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import httpx

from tests.live import LiveServer, live_server

from .helpers import TINY_CONV

CLIENTS = 4
DEADLINE_S = 90.0


def _hammer(url: str, stop: threading.Event, outcomes: Counter[str], lock: threading.Lock) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(100_000):  # bounded; stops when told or at the deadline
            if stop.is_set():
                return
            try:
                outcome = str(client.post("/api/v1/ops/conv2d", json=TINY_CONV).status_code)
            except httpx.TransportError as exc:
                outcome = type(exc).__name__
            with lock:
                outcomes[outcome] += 1


def _wait_for_new_worker(server: LiveServer, gone: int, before: set[int]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = set(server.workers()) - before
        if new and gone not in server.workers():
            return new.pop()
        time.sleep(0.1)
    raise AssertionError(f"no worker replaced {gone} within 30 s: {server.workers()}")


def _served_within(url: str, seconds: float) -> int:
    """Consecutive successes within `seconds`, retrying dropped connections (workers may still be starting)."""
    deadline, run = time.monotonic() + seconds, 0
    with httpx.Client(base_url=url, timeout=10) as client:
        while time.monotonic() < deadline and run < 10:
            try:
                r = client.post("/api/v1/ops/conv2d", json=TINY_CONV)
                assert r.status_code == 200, r.text
                run += 1
            except httpx.TransportError:
                run = 0
                time.sleep(0.2)
    return run


def test_killed_worker_is_replaced_and_requests_keep_succeeding() -> None:
    with live_server(workers=2) as server:
        deadline = time.monotonic() + 60
        while len(server.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        first = server.workers()
        assert len(first) == 2, first
        stop, lock, outcomes = threading.Event(), threading.Lock(), Counter[str]()
        threads = [threading.Thread(target=_hammer, args=(server.url, stop, outcomes, lock), daemon=True)
                   for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)  # requests running on both workers
            os.kill(first[0], signal.SIGKILL)
            replacement = _wait_for_new_worker(server, first[0], set(first))
            with lock:
                at_replacement = outcomes["200"]
            time.sleep(2)
            with lock:
                assert outcomes["200"] > at_replacement, outcomes  # the survivor kept serving meanwhile
        finally:
            stop.set()
            for t in threads:
                t.join(DEADLINE_S)
        assert set(outcomes) <= {"200", "RemoteProtocolError", "ReadError", "WriteError", "ConnectError"}, outcomes
        dropped = sum(n for k, n in outcomes.items() if k != "200")
        assert dropped <= CLIENTS, outcomes  # only what the killed worker held at that moment
        # Now kill the other original worker: what answers after that is a replacement.
        os.kill(first[1], signal.SIGKILL)
        assert _served_within(server.url, 60) == 10
        deadline = time.monotonic() + 60  # the supervisor pings each worker in turn, a starting one slowly
        while (len(server.workers()) < 2 or set(server.workers()) & set(first)) and time.monotonic() < deadline:
            time.sleep(0.2)
        now = server.workers()
        assert replacement in now and len(now) == 2 and not set(now) & set(first), (first, now)
        assert server.proc.poll() is None
