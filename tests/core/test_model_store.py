"""Uploaded models are held by content, bounded by their weights' bytes, and an evicted id says to upload again."""
from __future__ import annotations

import io
import warnings

import pytest
import torch
from torch import nn

from convscope.core.exceptions import InvalidRequest, NotFound, TooLarge
from convscope.core.models.store import ModelStore


def _onnx(out_channels: int) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(nn.Sequential(nn.Conv2d(3, out_channels, 3), nn.ReLU()).eval(),
                          torch.randn(1, 3, 8, 8), buffer, dynamo=False)
    return buffer.getvalue()


def test_same_bytes_same_id_and_lru_eviction() -> None:
    small, other = _onnx(4), _onnx(5)
    store = ModelStore(capacity_bytes=600)  # 448 and 560 bytes of weights: room for one at a time
    first = store.put(small, max_bytes=10**6)
    assert store.put(small, max_bytes=10**6) is first and len(first.id) == 64
    assert store.get(first.id.upper()).model.layers[0]["op"] == "conv2d"
    store.put(other, max_bytes=10**6)
    with pytest.raises(NotFound, match="upload it again"):
        store.get(first.id)
    assert store.stats()["evictions"] == 1


def test_limits_and_malformed_ids() -> None:
    store = ModelStore(capacity_bytes=100)
    with pytest.raises(TooLarge, match="more than this server accepts"):
        store.put(_onnx(4), max_bytes=100)
    with pytest.raises(TooLarge, match="whole model store"):
        store.put(_onnx(4), max_bytes=10**6)
    with pytest.raises(InvalidRequest, match="64 hexadecimal"):
        store.get("../etc/passwd")
