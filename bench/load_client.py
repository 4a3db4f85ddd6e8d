"""The load test's client side: one simulated person per `User`, every request timed into a `Recorder`.

Each user has connections of their own, as each student's browser does. One shared pool for
hundreds of concurrent requests would cost the client more than the server (httpcore matches
requests to connections by scanning the pool: 200 simultaneous requests took 17 ms of client
CPU each, against under 2 ms with a small pool per user), and the figures would be the client's.
"""
from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

import httpx
import orjson

from convscope.frames import MEDIA_TYPE as FRAMES
from tests.frames import read_frames

from .lecture import pipeline_body

REQUEST_TIMEOUT_S = 30.0
Image = tuple[str, bytes, str]  # file name, bytes, media type


@dataclass(frozen=True)
class Sample:
    phase: str
    endpoint: str
    status: int | str  # the HTTP status, or what went wrong on the way ("timeout", "ConnectError", "bad body")
    seconds: float
    envelope: bool = True  # an error answered in the one envelope (and a 503 with Retry-After)


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    lag_s: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU-seconds during the lecture: server, client, available
    store: dict[str, int] = field(default_factory=dict)  # the image store after the lecture, as /health reports it

    def of(self, phase: str) -> list[Sample]:
        return [s for s in self.samples if s.phase == phase]


def is_envelope(r: httpx.Response) -> bool:
    """The one error envelope, with its status; a 503 also carries Retry-After."""
    try:
        body = orjson.loads(r.content)
    except orjson.JSONDecodeError:
        return False
    ok = (isinstance(body, dict) and body.get("ok") is False and body.get("status") == r.status_code
          and isinstance(body.get("error"), str) and bool(body["error"]) and isinstance(body.get("errors"), list))
    return ok and (r.status_code != 503 or r.headers.get("retry-after", "").isdigit())


@dataclass
class Crowd:
    """What every user shares: the server, the recorder, the pictures made beforehand, one TLS context."""

    url: str
    rec: Recorder
    images: dict[int, Image]
    _tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)  # made once, not once per user

    def user(self) -> "User":
        return User(self, httpx.AsyncClient(base_url=self.url, timeout=REQUEST_TIMEOUT_S, verify=self._tls,
                                            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2)))


@dataclass
class User:
    crowd: Crowd
    client: httpx.AsyncClient

    async def __aenter__(self) -> "User":
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.client.aclose()

    def _record(self, sample: Sample) -> None:
        self.crowd.rec.samples.append(sample)

    async def send(self, phase: str, endpoint: str, path: str, check: Callable[[dict], bool] | None = None,
                   parse: bool = True, **kwargs: object) -> tuple[int | str, dict | None]:
        t0 = time.perf_counter()
        try:
            r = await self.client.post(path, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            self._record(Sample(phase, endpoint, "timeout", time.perf_counter() - t0, False))
            return "timeout", None
        except httpx.HTTPError as exc:
            self._record(Sample(phase, endpoint, type(exc).__name__, time.perf_counter() - t0, False))
            return type(exc).__name__, None
        seconds = time.perf_counter() - t0  # the whole body is in: the user has the answer
        if r.status_code != 200:
            self._record(Sample(phase, endpoint, r.status_code, seconds, is_envelope(r)))
            return r.status_code, None
        framed = r.headers.get("content-type", "").startswith(FRAMES)
        if not parse:  # the overload's megabytes of maps: a cheap look, so the client keeps up
            good = b'"event":"done"' in r.content[-256:] if framed else r.content.startswith(b'{"ok":true')
            self._record(Sample(phase, endpoint, 200 if good else "bad body", seconds))
            return (200 if good else "bad body"), None
        if framed:  # the page's transport: a frame per layer; the run is whole when the last says "done"
            events = [header for header, _ in read_frames([r.content])]
            body = {"ok": bool(events) and events[-1]["event"] == "done", "events": events}
        else:
            body = orjson.loads(r.content)
        good = isinstance(body, dict) and body.get("ok") is True and (check is None or check(body))
        self._record(Sample(phase, endpoint, 200 if good else "bad body", seconds))
        return (200 if good else "bad body"), body

    async def upload(self, phase: str, seed: int) -> str | None:
        name, data, kind = self.crowd.images[seed]
        status, body = await self.send(phase, "POST /api/v1/images", "/api/v1/images",
                                       check=lambda b: len(b.get("id", "")) == 64 and b.get("width") == 512,
                                       files={"file": (name, data, kind)})
        return body["id"] if body else None

    async def pipeline(self, phase: str, image_id: str, kernel: str, parse: bool = True) -> int | str:
        status, _ = await self.send(phase, "POST /api/v1/pipeline", "/api/v1/pipeline",
                                    check=lambda b: ([e["event"] for e in b["events"]].count("maps") == 4
                                                     if "events" in b else len(b.get("layers", ())) == 3),
                                    parse=parse, json=pipeline_body(image_id, kernel))
        return status
