"""A streamed pipeline sends the frames that were made while its last send waited in one send (frames._ready_now):
same bytes, in order, fewer sends; an error frame ends the batch."""
from __future__ import annotations

import math

import anyio
import pytest

from convscope.core.exceptions import ConvscopeError
from convscope.frames import _ready_now


def _run(body) -> None:
    """body(tx, rx) inside an event loop, on a fresh memory stream closed afterwards."""
    async def main() -> None:
        tx, rx = anyio.create_memory_object_stream(max_buffer_size=math.inf)
        with tx, rx:
            await body(tx, rx)

    anyio.run(main)


@pytest.mark.parametrize("waiting", [0, 1, 5])
def test_every_frame_already_waiting_goes_with_the_first(waiting: int) -> None:
    async def body(tx, rx) -> None:
        for n in range(waiting):
            tx.send_nowait(b"f%d" % (n + 1))
        items, failed = _ready_now(rx, b"f0")
        assert items == [b"f%d" % n for n in range(waiting + 1)] and failed is None
        tx.send_nowait(b"later")  # what comes after the batch is left for the next one
        assert rx.receive_nowait() == b"later"

    _run(body)


def test_an_error_ends_the_batch_and_what_follows_stays() -> None:
    error = ConvscopeError("the device ran out of memory")

    async def body(tx, rx) -> None:
        for item in (b"b", error, b"after"):
            tx.send_nowait(item)
        items, failed = _ready_now(rx, b"a")
        assert items == [b"a", b"b"] and failed is error
        assert rx.receive_nowait() == b"after"
        assert _ready_now(rx, error) == ([], error)

    _run(body)


def test_a_closed_stream_ends_the_batch() -> None:
    async def body(tx, rx) -> None:
        tx.send_nowait(b"b")
        tx.close()
        assert _ready_now(rx, b"a") == ([b"a", b"b"], None)

    _run(body)


def test_frames_made_close_together_are_handed_over_as_one_batch(monkeypatch) -> None:
    """frames._Batches: the first frame goes at once; those made within BATCH_S of the last hand-over wait for the
    next, joined into one bytes in their order; flush() hands over what is left."""
    from convscope import frames

    clock = iter([0.0, 0.001, 0.002, 0.010, 0.011]).__next__
    monkeypatch.setattr(frames.time, "perf_counter", clock)
    handed: list[bytes] = []
    batches = frames._Batches(handed.append)
    parts = [frames.frame_parts({"event": "maps", "index": i}, b"p%d" % i) for i in range(5)]
    for p in parts:
        batches.add(p)
    assert handed == [b"".join(parts[0]), b"".join((*parts[1], *parts[2], *parts[3]))]
    batches.flush()
    batches.flush()  # nothing left: nothing handed over
    assert handed[2:] == [b"".join(parts[4])]
    assert b"".join(handed) == b"".join(frames.frame({"event": "maps", "index": i}, b"p%d" % i) for i in range(5))


def test_a_stream_that_fails_mid_run_sends_the_maps_made_before_its_error(monkeypatch) -> None:
    """The device runs out of memory at the third layer: the input's and the first two layers' frames (some of them
    still in a batch) come before one "error" frame with the 503 envelope, and the server answers the next request."""
    from fastapi.testclient import TestClient

    from convscope.app import create_app
    from convscope.core.pipeline_run import PipelineRun
    from convscope.settings import Settings
    from tests.frames import read_frames

    compute = PipelineRun.compute

    def failing(self, i):
        if i == 2 and getattr(self, "fail", True):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return compute(self, i)

    layers = [{"op": "conv2d", "kernel": "random", "seed": 1, "out_channels": 4, "padding": 1}, {"op": "relu"},
              {"op": "max_pool2d", "kernel_size": 2}, {"op": "relu"}]
    with TestClient(create_app(Settings(device="cpu")), raise_server_exceptions=False) as client:
        sample = client.get("/api/v1/samples").json()["samples"][0]["id"]
        body = {"image": {"sample": sample}, "layers": layers, "transport": "stream", "max_side": 16}
        monkeypatch.setattr(PipelineRun, "compute", failing)
        r = client.post("/api/v1/pipeline", json=body)
        assert r.status_code == 200
        frames = [h for h, _ in read_frames([r.content])]
        assert [h["event"] for h in frames] == ["start", "maps", "maps", "maps", "error"]
        assert [h.get("index") for h in frames[1:4]] == [-1, 0, 1]
        assert frames[-1]["status"] == 503 and frames[-1]["ok"] is False and frames[-1]["error"]
        monkeypatch.setattr(PipelineRun, "compute", compute)
        again = [h["event"] for h, _ in read_frames([client.post("/api/v1/pipeline", json=body).content])]
        assert again == ["start", *["maps"] * 5, "done"]
