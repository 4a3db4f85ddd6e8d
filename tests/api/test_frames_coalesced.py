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
