"""The streamed pipeline response: one frame per layer, sent as each is computed, stopped when the client leaves.

Media type application/vnd.convscope.frames. A frame is

    4 bytes   big-endian length N of the header
    N bytes   the header, UTF-8 JSON, with "event" and "bytes" (the payload's length)
    payload   `bytes` bytes: the frame's maps back to back; each map's header gives its offset and length

Events, in order: "start" (image, device, layer count), "maps" (the input, then each layer, with the
block fields of the JSON response), "done" (elapsed_ms); or "error" (status, error, as the envelope) if
the device fails mid-run. The slot of the compute gate is held for the whole stream and released
when it ends, however it ends.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import logging
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .compute import ComputeGate
from .core.exceptions import ConvscopeError
from .core.pipeline_run import Block, PipelineRun

MEDIA_TYPE = "application/vnd.convscope.frames"
# One encode in flight per stream; the pool bounds them all together.
_ENCODE_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="convscope-encode")
log = logging.getLogger("convscope")


def frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = orjson.dumps(header | {"bytes": len(payload)}, option=orjson.OPT_SERIALIZE_NUMPY)
    return struct.pack(">I", len(head)) + head + payload


def block_frame(block: Block) -> bytes:
    maps, offset = [], 0
    for m in block.maps:
        maps.append(m.header() | {"offset": offset, "length": len(m.data)})
        offset += len(m.data)
    return frame({"event": "maps", **block.header(), "maps": maps}, b"".join(m.data for m in block.maps))


class FrameStream(Response):
    """A response that runs `run` step by step inside an already-held gate slot (`slot` closes it)."""

    media_type = MEDIA_TYPE

    def __init__(self, run: PipelineRun, gate: ComputeGate, slot: contextlib.AsyncExitStack,
                 start: dict[str, Any]) -> None:
        super().__init__(None, headers={"Cache-Control": "no-store"})
        self.run, self.gate, self.slot, self.start = run, gate, slot, start

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

    @staticmethod
    async def _watch(receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        scope.cancel()  # the step in its thread finishes; no further step starts

    async def _frames(self, send: Send) -> None:
        """Compute block i + 1 in the gate's slot while block i is encoded on another thread: encoding is
        a third of a layer's time, and one request then uses a second core when the machine has one idle."""
        t0 = time.perf_counter()
        body = frame({"event": "start", **self.start, "layers": len(self.run)})
        try:
            pending: Any = None
            for i in range(-1, len(self.run)):
                computed = await self.gate.call(self.run.compute, i)
                if pending is not None:
                    body += block_frame(await pending.wait())
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    body = b""
                pending = _Background(self.run.encode, i, *computed)
            body += block_frame(await pending.wait())
            await send({"type": "http.response.body", "body": body, "more_body": True})
            body = frame({"event": "done", "elapsed_ms": round((time.perf_counter() - t0) * 1e3, 1)})
        except ConvscopeError as exc:  # e.g. the device ran out of memory mid-run: the stream says so and ends
            body = frame({"event": "error", "ok": False, "status": exc.status, "error": exc.message,
                          "errors": [{"loc": exc.loc, "msg": exc.message}]})
        await send({"type": "http.response.body", "body": body, "more_body": False})


class _Background:
    """fn(*args) started now on the encode pool; wait() gives its result."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.future = asyncio.get_running_loop().run_in_executor(_ENCODE_POOL, fn, *args)

    async def wait(self) -> Any:
        return await self.future
