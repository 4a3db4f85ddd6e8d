"""Uploaded trained weights for catalogue models, held in memory only: a byte-capped LRU.

An entry is the file's sha256 (its id) for one catalogue model: `POST /api/v1/models/{id}/weights`
checks the safetensors file against that model (weights.py, the same reader as the weights folder) and
`"model": {"id": "<catalogue id>", "weights": "<sha256>"}` on /pipeline and /pipeline/probe runs it.
An evicted or unknown id is a NotFound that says to upload again, as for images and models.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from ..exceptions import InvalidRequest, NotFound, TooLarge
from . import catalogue
from .lru import ByteLRU
from .weights import expected_parameters, read_safetensors

_ID_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredWeights:
    id: str
    model: str
    weights: dict[str, dict[str, np.ndarray]]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for params in self.weights.values() for a in params.values())

    @property
    def tensors(self) -> int:
        return sum(len(params) for params in self.weights.values())


class WeightsStore:
    def __init__(self, capacity_bytes: int) -> None:
        self._lru = ByteLRU(capacity_bytes)

    def put(self, model_id: str, data: bytes, *, max_bytes: int) -> StoredWeights:
        if len(data) > max_bytes:
            raise TooLarge(f"The weights file is {len(data):,} bytes, more than this server accepts "
                           f"({max_bytes:,} bytes).", ["file"])
        key = (model_id, hashlib.sha256(data).hexdigest())
        held = self._lru.get(key)
        if held is not None:
            return held
        entry = StoredWeights(key[1], model_id, read_safetensors(data, expected_parameters(catalogue.network(model_id))))
        if entry.nbytes > self._lru.capacity:
            raise TooLarge(f"The weights need {entry.nbytes:,} bytes as float32, more than the whole weights store "
                           f"holds ({self._lru.capacity:,} bytes).", ["file"])
        return self._lru.add(key, entry)

    def get(self, model_id: str, weights_id: object) -> StoredWeights:
        if not isinstance(weights_id, str) or not _ID_RE.match(weights_id.lower()):
            raise InvalidRequest(f"model.weights {str(weights_id)[:80]!r} is not a weights id: ids are the 64 "
                                 "hexadecimal characters of the file's sha256, as POST /api/v1/models/{id}/weights "
                                 "returns.", ["model", "weights"])
        key = (model_id, weights_id.lower())
        entry = self._lru.get(key)
        others = [m for m, w in self._lru.keys() if w == key[1]] if entry is None else []
        if entry is None and others:
            raise InvalidRequest(f"Weights {weights_id[:12]}… were uploaded for {others[0]!r}, not {model_id!r}.",
                                 ["model", "weights"])
        if entry is None:
            raise NotFound(f"Weights {weights_id[:12]}… are not in memory (uploaded weights are kept for a while "
                           "only, or were uploaded to another server); upload them again.", ["model", "weights"])
        return entry
