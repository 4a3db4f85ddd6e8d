"""The streamed pipeline response: one frame per layer, sent as each is computed, stopped when the client leaves.

Media type application/vnd.convscope.frames. A frame is

    4 bytes   big-endian length N of the header
    N bytes   the header, UTF-8 JSON, with "event" and "bytes" (the payload's length)
    payload   `bytes` bytes: the frame's maps back to back; each map's header gives its offset and length

Events, in order: "start" (image, device, layer count, the network in the registry's form: the body of
/shapes and /receptive-field), "maps" (the input, then each layer, with the
block fields of the JSON response), "done" (elapsed_ms); or "error" (status, error, as the envelope) if
the device fails mid-run. The slot of the compute gate is held for the whole stream and released
when it ends, however it ends.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np
import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .compute import ComputeGate
from .core.exceptions import ConvscopeError
from .core.pipeline_run import Block, PipelineRun

MEDIA_TYPE = "application/vnd.convscope.frames"
BATCH_S = 0.004  # frames made within this long of the last hand-over to the event loop wait for the next (_Batches)
log = logging.getLogger("convscope")


def frame_parts(header: dict[str, Any], payload: Any = b"") -> tuple[bytes, Any]:
    """A frame as two parts: its header's length and the header, then the payload (any bytes-like object)."""
    head = orjson.dumps(header | {"bytes": len(payload)}, option=orjson.OPT_SERIALIZE_NUMPY)
    return struct.pack(">I", len(head)) + head, payload


def frame(header: dict[str, Any], payload: Any = b"") -> bytes:
    """A frame, written with one copy."""
    return b"".join(frame_parts(header, payload))


def block_frame(block: Block) -> tuple[bytes, Any]:
    """A "maps" frame's parts: the block's header, each map's header with its offset and length in the payload, the
    maps (a raw or f32 stack's C×n codes are read where they are, not copied out, until a batch is joined)."""
    planes = block.stack.planes
    payload = memoryview(np.ascontiguousarray(planes)).cast("B") if isinstance(planes, np.ndarray) else b"".join(planes)
    return frame_parts({"event": "maps", **block.header(), "maps": orjson.Fragment(block.stack.frame_json())}, payload)


class FrameStream(Response):
    """A response that runs `run` step by step inside an already-held gate slot (`slot` closes it)."""

    media_type = MEDIA_TYPE

    def __init__(self, run: PipelineRun, gate: ComputeGate, slot: contextlib.AsyncExitStack,
                 start: dict[str, Any]) -> None:
        super().__init__(None, headers={"Cache-Control": "no-store"})
        self.run, self.gate, self.slot, self.start = run, gate, slot, start
        self.stopped = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        finished = False
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(k, v) for k, v in self.raw_headers if k != b"content-length"]})
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch, receive, tg.cancel_scope)
                await self._frames(send)
                finished = True
                tg.cancel_scope.cancel()
        finally:
            if not finished:
                self.gate.cancelled += 1
                log.info("pipeline stream stopped: the client went away")
            await self.slot.aclose()

    async def _watch(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.stopped = True  # the layer in its thread finishes; no further layer starts
        scope.cancel()

    async def _frames(self, send: Send) -> None:
        """The layers are computed back to back in the gate's slot, in one job in one worker thread, which
        hands each block to the event loop as it is made; the slot goes back as soon as the last is done,
        and blocks are sent as they come: the slot never waits on a slow client. Each block is encoded inside
        the slot too (a request runs to completion, which keeps latency low under load), except while the
        gate has a slot free and nobody waiting: then encoding goes to one thread of the side pool, and one
        request uses the idle core while its next layers are computed (ResNet-18's 70 blocks: one thread hop,
        not 140)."""
        t0 = time.perf_counter()
        blocks, ready = anyio.create_memory_object_stream[Any](max_buffer_size=math.inf)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._compute, blocks)
            body = frame({"event": "start", **self.start, "layers": len(self.run)})
            async with ready:
                async for item in ready:
                    # frames made while the last send waited on the client go out with this one, in one send
                    items, failed = _ready_now(ready, item)
                    if items:  # (each a batch of frames as one bytes, _Batches; one alone goes as it is, not copied)
                        parts = [b for b in (body, *items) if b]
                        await send({"type": "http.response.body", "body": parts[0] if len(parts) == 1
                                    else b"".join(parts), "more_body": True})
                        body = b""
                    if failed is not None:  # e.g. the device ran out of memory mid-run
                        body += frame({"event": "error", "ok": False, "status": failed.status, "error": failed.message,
                                       "errors": [{"loc": failed.loc, "msg": failed.message}]})
                        break
                else:
                    body = frame({"event": "done", "elapsed_ms": round((time.perf_counter() - t0) * 1e3, 1)})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _compute(self, blocks: Any) -> None:
        loop = asyncio.get_running_loop()

        def put(item: Any) -> None:  # from the worker thread
            loop.call_soon_threadsafe(_send_nowait, blocks, item)

        async with blocks:
            try:
                await self.gate.call(self._run_all, put)
            except ConvscopeError as exc:
                await blocks.send(exc)
            finally:
                await self.slot.aclose()  # the compute slot goes back now, not when the last byte is sent

    def _run_all(self, put: Callable[[Any], None]) -> None:
        """Every layer in order, in the job's thread, each block's frame going to put() as it is made: encoded
        here, or, while the gate had a slot free and nobody waiting when the run started, on one side thread."""
        gate = self.gate
        idle = not gate.waiting and gate.running < gate.limiter.total_tokens
        batches = _Batches(put)
        try:
            self.run.deliver_all(lambda block: batches.add(block_frame(block)), gate.side.executor if idle else None,
                                 lambda: self.stopped)
        finally:
            batches.flush()


class _Batches:
    """Frames handed to the event loop a batch at a time: what was made within BATCH_S of the last hand-over goes with
    the next one, so a network of many small layers wakes the loop (and passes each send through the middleware) a
    few times, not once a layer (ResNet-18: ~15 hand-overs, not 71), each batch joined here, off the event loop. The
    first frame goes at once; flush() sends the rest."""

    def __init__(self, put: Callable[[Any], None]) -> None:
        self.put, self.last = put, -math.inf
        self.frames: list[Any] = []

    def add(self, parts: tuple[bytes, Any]) -> None:
        self.frames.extend(parts)
        now = time.perf_counter()
        if now - self.last >= BATCH_S:
            self.last = now
            self.flush()

    def flush(self) -> None:
        """The frames so far, joined (their one copy) and handed over."""
        if self.frames:
            self.put(b"".join(self.frames))
            self.frames = []


def _ready_now(ready: Any, first: Any) -> tuple[list[bytes], ConvscopeError | None]:
    """`first` and every item already waiting in `ready` behind it: the frames, up to an error if one came."""
    items: list[bytes] = []
    item = first
    while True:
        if isinstance(item, ConvscopeError):
            return items, item
        items.append(item)
        try:
            item = ready.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream):
            return items, None


def _send_nowait(blocks: Any, item: Any) -> None:
    with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):  # the client went away
        blocks.send_nowait(item)
