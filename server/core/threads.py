"""Thread pools with a lifetime: threads exist between open() and close(), which the app's lifespan calls.

A pool object may be made at import time; its threads may not. Nested open()/close() pairs share one
executor (the outermost close shuts it down, after its running jobs finish). Where no pool is open (a
script using core directly), `map` runs the calls in the calling thread.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Threads:
    def __init__(self, name: str, workers: int) -> None:
        self.name, self.workers = name, max(1, workers)
        self.executor: ThreadPoolExecutor | None = None
        self._opened = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            self._opened += 1
            if self.executor is None:
                self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=self.name)

    def close(self) -> None:
        with self._lock:
            self._opened = max(0, self._opened - 1)
            if self._opened or self.executor is None:
                return
            executor, self.executor = self.executor, None
        executor.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        items = list(items)
        executor = self.executor
        if executor is not None:
            try:
                futures = [executor.submit(fn, item) for item in items]
            except RuntimeError:  # shut down meanwhile (the app is stopping): do the work here
                pass
            else:
                return [f.result() for f in futures]
        return [fn(item) for item in items]
