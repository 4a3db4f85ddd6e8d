"""A thread-safe store of entries bounded by their bytes, least recently used out first (the model and weights
stores; each entry has `nbytes`)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class ByteLRU:
    def __init__(self, capacity_bytes: int) -> None:
        self.capacity = capacity_bytes
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._nbytes = 0
        self._evictions = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        """The entry (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def add(self, key: Hashable, entry: Any) -> Any:
        """Keep entry under key, unless one is already there (that one is returned); evict to fit."""
        with self._lock:
            if key not in self._entries:
                self._entries[key] = entry
                self._nbytes += entry.nbytes
                while self._nbytes > self.capacity:
                    _, old = self._entries.popitem(last=False)
                    self._nbytes -= old.nbytes
                    self._evictions += 1
            self._entries.move_to_end(key)
            return self._entries[key]

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "bytes": self._nbytes, "capacity_bytes": self.capacity,
                    "evictions": self._evictions}
