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

import contextlib
import logging
import struct
import time
from typing import Any

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .compute import ComputeGate
from .core.exceptions import ConvscopeError
from .core.pipeline_run import Block, PipelineRun

MEDIA_TYPE = "application/vnd.convscope.frames"
log = logging.getLogger("convscope")


def frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = orjson.dumps(header | {"bytes": len(payload)}, option=orjson.OPT_SERIALIZE_NUMPY)
    return struct.pack(">I", len(head)) + head + payload


def block_frame(block: Block) -> bytes:
    lengths, payload = block.stack.payload()
    maps, offset = block.stack.headers(), 0
    for m, length in zip(maps, lengths):
        m["offset"], m["length"] = offset, length
        offset += length
    return frame({"event": "maps", **block.header(), "maps": maps}, payload)


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
        """The layers are computed back to back in the gate's slot, which goes back as soon as the last is
        done, and sent as they come: the slot never waits on a slow client. Each block is encoded inside
        the slot too (a request runs to completion, which keeps latency low under load), except while the
        gate has a slot free and nobody waiting: then encoding goes to another thread, and one request
        uses the idle core while its next layer is computed."""
        t0 = time.perf_counter()
        blocks, ready = anyio.create_memory_object_stream[Any](max_buffer_size=len(self.run) + 1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._compute, blocks)
            body = frame({"event": "start", **self.start, "layers": len(self.run)})
            async with ready:
                async for item in ready:
                    if isinstance(item, ConvscopeError):  # e.g. the device ran out of memory mid-run
                        body += frame({"event": "error", "ok": False, "status": item.status, "error": item.message,
                                       "errors": [{"loc": item.loc, "msg": item.message}]})
                        break
                    if not isinstance(item, Block):
                        item = await self.gate.offload(self.run.encode, *item)  # the gate's side pool
                    await send({"type": "http.response.body", "body": body + block_frame(item), "more_body": True})
                    body = b""
                else:
                    body = frame({"event": "done", "elapsed_ms": round((time.perf_counter() - t0) * 1e3, 1)})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _compute(self, blocks: Any) -> None:
        gate = self.gate
        async with blocks:
            try:
                for i in range(-1, len(self.run)):
                    computed = (i, *await gate.call(self.run.compute, i))
                    idle = gate.waiting == 0 and gate.running < gate.limiter.total_tokens
                    await blocks.send(computed if idle else await gate.call(self.run.encode, *computed))
            except ConvscopeError as exc:
                await blocks.send(exc)
            finally:
                await self.slot.aclose()  # the compute slot goes back now, not when the last byte is sent
