"""Torch work runs off the event loop, behind a small capacity limiter.

Past `max_queue` waiting jobs (or `queue_timeout_s` of waiting) the server
sheds load with 503 + Retry-After instead of queueing without bound.
"""
from __future__ import annotations

import functools
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

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
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
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self._threads)
        finally:
            self.limiter.release()
