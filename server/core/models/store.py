"""Uploaded models held in memory only: content-addressed (sha256 of the file), a byte-capped LRU.

An evicted or unknown id is a NotFound that says to upload again, as for images. Only the weights
count towards the cap; translation runs outside the lock, so a large upload never blocks readers.
"""
from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..exceptions import InvalidRequest, NotFound, TooLarge
from .onnx_import import Translated, translate

_ID_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredModel:
    id: str
    model: Translated

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for params in self.model.weights.values() for a in params.values())


class ModelStore:
    def __init__(self, capacity_bytes: int) -> None:
        self._capacity = capacity_bytes
        self._entries: OrderedDict[str, StoredModel] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self._evictions = 0

    def put(self, data: bytes, *, max_bytes: int) -> StoredModel:
        if len(data) > max_bytes:
            raise TooLarge(f"The model file is {len(data):,} bytes, more than this server accepts "
                           f"({max_bytes:,} bytes).", ["file"])
        model_id = hashlib.sha256(data).hexdigest()
        with self._lock:
            if model_id in self._entries:
                self._entries.move_to_end(model_id)
                return self._entries[model_id]
        entry = StoredModel(model_id, translate(data))
        if entry.nbytes > self._capacity:
            raise TooLarge(f"The model's weights need {entry.nbytes:,} bytes, more than the whole model store "
                           f"holds ({self._capacity:,} bytes).", ["file"])
        with self._lock:
            if model_id not in self._entries:
                self._entries[model_id] = entry
                self._nbytes += entry.nbytes
                while self._nbytes > self._capacity:
                    _, old = self._entries.popitem(last=False)
                    self._nbytes -= old.nbytes
                    self._evictions += 1
            return self._entries[model_id]

    def get(self, model_id: str) -> StoredModel:
        if not isinstance(model_id, str) or not _ID_RE.match(model_id.lower()):
            raise InvalidRequest(f"Model id {str(model_id)[:80]!r} is not a model id: ids are the 64 hexadecimal "
                                 "characters of the file's sha256.", ["model", "id"])
        with self._lock:
            entry = self._entries.get(model_id.lower())
            if entry is not None:
                self._entries.move_to_end(entry.id)
        if entry is None:
            raise NotFound(f"Model {model_id[:12]}… is not in memory (uploaded models are kept for a while only, "
                           "or it was uploaded to another server); upload it again.", ["model", "id"])
        return entry

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"models": len(self._entries), "bytes": self._nbytes, "capacity_bytes": self._capacity,
                    "evictions": self._evictions}
