"""Torch work runs off the event loop, behind a small capacity limiter.

Past `max_queue` waiting jobs (or `queue_timeout_s` of waiting) the server
sheds load with 503 + Retry-After instead of queueing without bound.

`run(fn)` is one job in one slot. A streamed job (the image lab's pipeline) holds one
slot across several steps: `async with gate.slot(): await gate.call(step) ...`.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any, Callable, TypeVar

import anyio

from .core.exceptions import ConvscopeError

T = TypeVar("T")


class Overloaded(ConvscopeError):
    status = 503


class ComputeGate:
    def __init__(self, concurrency: int, max_queue: int, timeout_s: float) -> None:
        self.limiter = anyio.CapacityLimiter(concurrency)
        self._threads = anyio.CapacityLimiter(concurrency)  # a task may hold only one token of a limiter
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.waiting = 0
        self.cancelled = 0  # streamed jobs stopped because the client went away

    @property
    def running(self) -> int:
        return int(self.limiter.borrowed_tokens)

    def stats(self) -> dict[str, int]:
        return {"running": self.running, "waiting": self.waiting, "capacity": int(self.limiter.total_tokens),
                "max_queue": self.max_queue, "cancelled": self.cancelled}

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a compute slot (503 when the queue is full or the wait too long), hold it, release it."""
        if self.waiting >= self.max_queue:
            raise Overloaded(
                f"The server is busy ({self.waiting} computations waiting); try again in a few seconds.", [])
        self.waiting += 1
        try:
            with anyio.fail_after(self.timeout_s):
                await self.limiter.acquire()
        except TimeoutError:
            raise Overloaded(f"The server is busy: no compute slot freed up within {self.timeout_s:g} s; "
                             "try again in a few seconds.", []) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self.limiter.release()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn in a worker thread; the caller holds a slot."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self._threads)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async with self.slot():
            return await self.call(fn, *args, **kwargs)
