"""gzip of responses (Starlette's GZipMiddleware, the same bytes), with every body from `offload_bytes` up
compressed in the app's side pool (compute.py: opened and closed in the lifespan), never on the event loop.

Starlette itself moves only bodies of 128 KiB and more off the loop, into anyio's shared threads; at
compresslevel 9 a 100 KiB JSON body takes milliseconds, which every other request would wait for.
"""
from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Receive, Scope, Send

from .compute import WorkerPool

OFFLOAD_BYTES = 16 * 1024  # below this, compressing costs less than the hop to a thread
# zlib's level 6, not Starlette's 9: on the views' JSON (long runs of numbers) 9 takes ~10× as long for ~2 % fewer
# bytes; /equivariance's 529 KB answer: 70.5 KB in ~40 ms at 9, 72 KB in ~15 ms at 6 (2 cores), which its page waits for.
COMPRESS_LEVEL = 6


class _Responder(GZipResponder):
    def __init__(self, app: ASGIApp, minimum_size: int, pool: WorkerPool, offload_bytes: int, **kwargs: Any) -> None:
        super().__init__(app, minimum_size, **kwargs)
        self.pool, self.offload_bytes = pool, offload_bytes

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if len(body) >= self.offload_bytes:
            return await self.pool.run(self._compress_body, body, more_body)
        return self._compress_body(body, more_body)


class GZip(GZipMiddleware):
    def __init__(self, app: ASGIApp, *, pool: WorkerPool, offload_bytes: int = OFFLOAD_BYTES, **kwargs: Any) -> None:
        super().__init__(app, **{"compresslevel": COMPRESS_LEVEL, **kwargs})
        self.pool, self.offload_bytes = pool, offload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder: ASGIApp
        if "gzip" in Headers(scope=scope).get("Accept-Encoding", ""):
            responder = _Responder(self.app, self.minimum_size, self.pool, self.offload_bytes,
                                   compresslevel=self.compresslevel, exclude_content_types=self.exclude_content_types)
        else:
            responder = IdentityResponder(self.app, self.minimum_size, exclude_content_types=self.exclude_content_types)
        await responder(scope, receive, send)
