"""Uploaded models held in memory only: content-addressed (sha256 of the file), a byte-capped LRU.

An evicted or unknown id is a NotFound that says to upload again, as for images. Only the weights
count towards the cap; translation runs outside the lock, so a large upload never blocks readers.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..exceptions import InvalidRequest, NotFound, TooLarge
from .lru import ByteLRU
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
        self._lru = ByteLRU(capacity_bytes)

    def put(self, data: bytes, *, max_bytes: int) -> StoredModel:
        if len(data) > max_bytes:
            raise TooLarge(f"The model file is {len(data):,} bytes, more than this server accepts "
                           f"({max_bytes:,} bytes).", ["file"])
        model_id = hashlib.sha256(data).hexdigest()
        held = self._lru.get(model_id)
        if held is not None:
            return held
        entry = StoredModel(model_id, translate(data))
        if entry.nbytes > self._lru.capacity:
            raise TooLarge(f"The model's weights need {entry.nbytes:,} bytes, more than the whole model store "
                           f"holds ({self._lru.capacity:,} bytes).", ["file"])
        return self._lru.add(model_id, entry)

    def get(self, model_id: str) -> StoredModel:
        if not isinstance(model_id, str) or not _ID_RE.match(model_id.lower()):
            raise InvalidRequest(f"Model id {str(model_id)[:80]!r} is not a model id: ids are the 64 hexadecimal "
                                 "characters of the file's sha256.", ["model", "id"])
        entry = self._lru.get(model_id.lower())
        if entry is None:
            raise NotFound(f"Model {model_id[:12]}… is not in memory (uploaded models are kept for a while only, "
                           "or it was uploaded to another server); upload it again.", ["model", "id"])
        return entry

    def stats(self) -> dict[str, int]:
        held = self._lru.stats()
        return {"models": held.pop("entries"), **held}
