"""Torch work runs off the event loop, behind a small capacity limiter.

Past `max_queue` waiting jobs (or `queue_timeout_s` of waiting) the server
sheds load with 503 + Retry-After instead of queueing without bound.

`run(fn)` is one job in one slot. A streamed job (the image lab's pipeline) holds one
slot across several steps: `async with gate.slot(): await gate.call(step) ...`.

Every torch job passes through `call`, so that is where running out of device memory
becomes a 503 with a sentence (and, on CUDA, the cached blocks are handed back).
"""
from __future__ import annotations

import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any, Callable, TypeVar

import anyio

from .core.exceptions import ConvscopeError

T = TypeVar("T")
log = logging.getLogger("convscope")

# What torch says when an allocation fails: CUDA ("CUDA out of memory", "CUDA error: out of
# memory", cuBLAS's "CUBLAS_STATUS_ALLOC_FAILED"), the CPU allocator ("DefaultCPUAllocator:
# can't allocate memory"), MPS ("MPS backend out of memory").
_OOM_PHRASES = ("out of memory", "can't allocate memory", "cannot allocate memory", "alloc_failed")
OUT_OF_MEMORY = ("The device ran out of memory running this computation; try a smaller image, fewer channels "
                 "or fewer layers, or retry in a few seconds.")


class Overloaded(ConvscopeError):
    status = 503


class DeviceOutOfMemory(Overloaded):
    """An allocation failed inside a torch job: 503 + Retry-After, as the job may fit once others finish."""


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError, without importing torch here
        return True
    return isinstance(exc, RuntimeError) and any(p in str(exc).lower() for p in _OOM_PHRASES)


def release_device_memory() -> None:
    """Drop the failed job's garbage and hand CUDA's cached blocks back, so the next job starts clean."""
    gc.collect()
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class ComputeGate:
    def __init__(self, concurrency: int, max_queue: int, timeout_s: float) -> None:
        self.limiter = anyio.CapacityLimiter(concurrency)
        self._threads = anyio.CapacityLimiter(concurrency)  # a task may hold only one token of a limiter
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.waiting = 0
        self.cancelled = 0  # streamed jobs stopped because the client went away
        self.out_of_memory = 0  # jobs whose allocation failed (answered 503)

    @property
    def running(self) -> int:
        return int(self.limiter.borrowed_tokens)

    def stats(self) -> dict[str, int]:
        return {"running": self.running, "waiting": self.waiting, "capacity": int(self.limiter.total_tokens),
                "max_queue": self.max_queue, "cancelled": self.cancelled, "out_of_memory": self.out_of_memory}

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a compute slot (503 when the queue is full or the wait too long), hold it, release it."""
        if self.waiting >= self.max_queue:
            raise Overloaded(
                f"The server is busy ({self.waiting} computations waiting); try again in a few seconds.", [])
        self.waiting += 1
        borrower = object()  # the slot's own token holder: a streamed job releases it from another task
        try:
            with anyio.fail_after(self.timeout_s):
                await self.limiter.acquire_on_behalf_of(borrower)
        except TimeoutError:
            raise Overloaded(f"The server is busy: no compute slot freed up within {self.timeout_s:g} s; "
                             "try again in a few seconds.", []) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self.limiter.release_on_behalf_of(borrower)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn in a worker thread; the caller holds a slot. A failed allocation is a DeviceOutOfMemory (503)."""
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self._threads)
        except Exception as exc:
            if isinstance(exc, ConvscopeError) or not is_out_of_memory(exc):
                raise
            self.out_of_memory += 1
            log.warning("out of memory in %s: %s", getattr(fn, "__name__", fn), str(exc)[:200])
        # Out of the except block, the traceback (and the failed job's tensors) is no longer held.
        await anyio.to_thread.run_sync(release_device_memory, limiter=self._threads)
        raise DeviceOutOfMemory(OUT_OF_MEMORY, [])

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async with self.slot():
            return await self.call(fn, *args, **kwargs)
