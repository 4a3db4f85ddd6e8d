"""A run's blocks encoded on one spare thread (pipeline_run.Encoder) while the layers are computed: the same
blocks in the same order as encoded in line, the encoder's error raised to the caller, and the maps that wait
bounded by bytes."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
import pytest

from convscope.core import pipeline_run
from convscope.core.pipeline_run import Encoder, PipelineRun, run_pipeline

LAYERS = [{"op": "conv2d", "kernel": "random", "seed": 1, "out_channels": 6, "padding": 1}, {"op": "relu"},
          {"op": "max_pool2d", "kernel_size": 2}, {"op": "conv2d", "kernel": "random", "seed": 2, "out_channels": 4},
          {"op": "relu6"}, {"op": "flatten"}, {"op": "linear", "out_features": 5}]
PIXELS = np.random.default_rng(7).random((3, 30, 26), dtype=np.float32)


def test_encoded_on_a_spare_thread_is_the_same_body() -> None:
    with ThreadPoolExecutor(2) as pool:
        spared = run_pipeline(PIXELS, LAYERS, max_side=16, spare=lambda: pool, fragment=True)
    inline = run_pipeline(PIXELS, LAYERS, max_side=16, fragment=True)
    assert orjson.dumps(spared) == orjson.dumps(inline)


def test_the_encoder_s_error_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    run = PipelineRun(PIXELS, LAYERS, max_side=16)
    real = run.encode

    def failing(i, y, stats):
        if i == 2:
            raise ValueError("block 2 could not be encoded")
        return real(i, y, stats)

    monkeypatch.setattr(run, "encode", failing)
    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="block 2"):
        run.dicts(spare=lambda: pool)


def test_waiting_maps_are_bounded_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_run, "PENDING_BYTES", 1)
    run = PipelineRun(PIXELS, LAYERS, max_side=16)
    seen: list[int] = []
    lock = threading.Lock()
    delivered: list[int] = []

    def slow(block):
        time.sleep(0.01)
        with lock:
            delivered.append(block.index)

    with ThreadPoolExecutor(1) as pool:
        encoder = Encoder(run, pool, slow)
        for i in range(-1, len(run)):
            y, stats = run.compute(i)
            encoder.put(i, y, stats)
            seen.append(encoder.pending)
        encoder.close()
    assert delivered == list(range(-1, len(run)))  # in order, every one
    # past the bound, put() waits until the one block before it is encoded: never more than two wait
    biggest = 4 * 6 * 30 * 26
    assert max(seen) <= 2 * biggest and encoder.pending == 0
