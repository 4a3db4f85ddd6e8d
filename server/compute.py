"""Torch work runs off the event loop, behind a small capacity limiter.

Past `max_queue` waiting jobs (or `queue_timeout_s` of waiting) the server
sheds load with 503 + Retry-After instead of queueing without bound.

`run(fn)` is one job in one slot. A streamed job (the image lab's pipeline) holds one
slot across several steps: `async with gate.slot(): await gate.call(step) ...`.
`offload(fn)` is CPU work that is not a torch job (a PNG preview, a sample image, encoding a
streamed block): it runs in a second pool, without a slot, so the event loop never does it.

Both pools are thread pools the app opens in its lifespan and shuts down when it stops
(`open()` / `close()`); an app driven without its lifespan runs the same jobs in anyio's
worker threads.

Every torch job passes through `call`, so that is where running out of device memory
becomes a 503 with a sentence (and, on CUDA, the cached blocks are handed back).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
from collections.abc import AsyncIterator
from typing import Any, Callable, TypeVar

import anyio

from .core.exceptions import ConvscopeError
from .core.threads import Threads

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


class WorkerPool(Threads):
    """Threads (open between the app's start-up and shutdown) whose jobs are awaited from the event loop.

    As with anyio's worker threads, a cancelled caller still waits for its job to finish, so that a job
    never outlives the slot it was given.
    """

    def __init__(self, name: str, workers: int) -> None:
        super().__init__(name, workers)
        self._fallback = anyio.CapacityLimiter(self.workers)  # outside the lifespan: anyio's threads, as many

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        job = functools.partial(fn, *args, **kwargs)
        executor = self.executor
        if executor is None:
            return await anyio.to_thread.run_sync(job, limiter=self._fallback)
        future = asyncio.get_running_loop().run_in_executor(executor, job)
        with anyio.CancelScope(shield=True):
            return await future


class ComputeGate:
    def __init__(self, concurrency: int, max_queue: int, timeout_s: float, side_workers: int = 0) -> None:
        self.limiter = anyio.CapacityLimiter(concurrency)
        # The slot's limiter and the pool are separate: a task may hold only one token of a limiter.
        self.pool = WorkerPool("convscope-compute", concurrency)
        self.side = WorkerPool("convscope-side", side_workers or os.cpu_count() or 1)
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.waiting = 0
        self.cancelled = 0  # streamed jobs stopped because the client went away
        self.out_of_memory = 0  # jobs whose allocation failed (answered 503)

    def open(self) -> None:
        """Start the worker threads (the app's lifespan calls this at start-up)."""
        self.pool.open()
        self.side.open()

    def close(self) -> None:
        """Shut the worker threads down, after their running jobs finish (the app's lifespan, at shutdown)."""
        self.side.close()
        self.pool.close()

    async def offload(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn (CPU work that is not a torch job) in the side pool, without a slot."""
        return await self.side.run(fn, *args, **kwargs)

    def spare(self) -> Any:
        """The side pool's executor while a slot is free and nobody waits (a job may then use an idle core for
        work it can overlap, as the streamed pipeline's encoding does), else None. Read from any thread."""
        idle = self.waiting == 0 and self.limiter.borrowed_tokens < self.limiter.total_tokens
        return self.side.executor if idle else None

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
            return await self.pool.run(fn, *args, **kwargs)
        except Exception as exc:
            if isinstance(exc, ConvscopeError) or not is_out_of_memory(exc):
                raise
            self.out_of_memory += 1
            log.warning("out of memory in %s: %s", getattr(fn, "__name__", fn), str(exc)[:200])
        # Out of the except block, the traceback (and the failed job's tensors) is no longer held.
        await self.pool.run(release_device_memory)
        raise DeviceOutOfMemory(OUT_OF_MEMORY, [])

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async with self.slot():
            return await self.call(fn, *args, **kwargs)
