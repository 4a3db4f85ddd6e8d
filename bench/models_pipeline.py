"""Networks and models through the lab's pipeline, against plain torch measured side by side (not a test).

- A catalogue ResNet-18 (seeded random weights) on a 224² photo through POST /api/v1/pipeline, every
  layer's maps at 64 px, the whole app in-process (median of several; driven by TestClient and by httpx's
  ASGI transport, see resnet18()), ÷ torch's forward of the same model with the same weights in this
  process, at the server's thread count, in its faster memory format. Goal ≤ 1.5.
- A burst of 60 distinct 512² pipelines (conv 3→16 with its own seed, relu, max pool 2, maps at 256 px)
  sent at once to a real server on loopback, wall time until the last answer, ÷ plain torch doing the
  same 60 back to back in this process at its best memory format. Goal ≤ 1.0.

`python -m bench networks` prints both with the /shapes figures; `python -m bench.models_pipeline` alone.
"""
from __future__ import annotations

import asyncio
import io
import math
import statistics
import time

import httpx
import numpy as np
import orjson
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient
from PIL import Image

from convscope import allocator
from convscope.app import create_app
from convscope.core.models import catalogue
from convscope.core.models.run import random_weights
from tests.networks import TorchNetwork

from . import procmem
from .common import Row, post_read, serve_process

BURST = 60


def _png(side: int, seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _torch_forward_ms(net: TorchNetwork, x: torch.Tensor, repeats: int) -> float:
    best = math.inf
    for layout in (torch.contiguous_format, torch.channels_last):
        net.mods.to(memory_format=layout)  # (TorchNetwork names its own method _apply)
        xx = x.contiguous(memory_format=layout)
        with torch.no_grad():
            net(xx)  # warm-up
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                net(xx)
                times.append(time.perf_counter() - t)
        best = min(best, statistics.median(times))
    return best * 1e3


def resnet18(quick: bool = False) -> list[Row]:
    """Both transports: "stream" (binary frames, what the lab reads) and "json" (base64 maps in one body), each
    driven two ways in this process: by Starlette's TestClient, whose synchronous bridge hands every chunk of a
    streamed body from the app's event loop to the calling thread, and by httpx's ASGI transport on the app's own
    event loop (the app's time alone: no thread hop per chunk, which no client over a socket pays either)."""
    repeats = 3 if quick else 7
    served: dict[tuple[str, str], float] = {}
    app = create_app()
    with TestClient(app) as client:  # create_app sets torch's threads to the server's; the lifespan runs here
        image_id = client.post("/api/v1/images", files={"file": ("p.png", _png(224, 1), "image/png")}).json()["id"]

        async def on_loop(body: dict) -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
                return await c.post("/api/v1/pipeline", json=body)

        drivers = {"TestClient": lambda body: client.post("/api/v1/pipeline", json=body),
                   "ASGI transport": lambda body: client.portal.call(on_loop, body)}
        for transport in ("stream", "json"):
            body = {"image": {"id": image_id}, "model": {"id": "resnet18"}, "max_side": 64, "transport": transport}
            assert client.post("/api/v1/pipeline", json=body).status_code == 200  # weights made and cached
            times: dict[str, list[float]] = {d: [] for d in drivers}
            for _ in range(repeats):  # the two drivers alternate, so a drift of the machine hits both
                for driver, send in drivers.items():
                    t = time.perf_counter()
                    r = send(body)
                    times[driver].append(time.perf_counter() - t)
                    assert r.status_code == 200 and len(r.content) > 1_000_000, r.text[:200]
            for driver in drivers:
                served[transport, driver] = statistics.median(times[driver]) * 1e3
        network = catalogue.network("resnet18")
        net = TorchNetwork(network, random_weights(network, 0))
        plain = _torch_forward_ms(net, torch.randn(1, 3, 224, 224), repeats)
    return [Row("networks", f"catalogue ResNet-18, 224² photo → /pipeline ({t}, {d}), every layer's maps at 64 px",
                f"{ms:.0f} ms (torch forward {plain:.0f} ms)", f"{ms / plain:.2f}× torch (goal ≤ 1.5)")
            for (t, d), ms in served.items()]


def _burst_torch_s(images: list[np.ndarray]) -> float:
    """The 60 pipelines back to back, in the faster of the two layouts. Each image is made C-contiguous first: the
    decoded image's H×W×C pixels seen as C×H×W already carry channels-last strides with a batch stride of 3, which
    torch's CPU convolution does not take as channels-last, so it ran its slow contiguous path on them (and
    .contiguous(memory_format=channels_last) left them as they were): 0.97 s then, against 0.31 s in the real
    channels-last layout. The server makes its input channels-last the same way (pipeline_run.PipelineRun)."""
    allocator.tune()  # the server's allocator settings (allocator.py): both pay the same for fresh pages
    best = math.inf
    for layout in (torch.contiguous_format, torch.channels_last):
        t = time.perf_counter()
        for seed, pixels in enumerate(images):
            w = torch.as_tensor(np.random.default_rng(seed).standard_normal((16, 3, 3, 3), dtype=np.float32) / 27 ** .5)
            x = torch.from_numpy(np.ascontiguousarray(pixels))[None].contiguous(memory_format=layout)
            with torch.no_grad():
                y = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
            assert y.shape[-1] == 256
        best = min(best, time.perf_counter() - t)
    return best


def _burst_bodies(ids: list[str], transport: str) -> list[dict]:
    return [{"image": {"id": image_id}, "max_side": 256, "transport": transport, "layers": [
        {"op": "conv2d", "kernel": "random", "seed": seed, "out_channels": 16, "padding": 1}, {"op": "relu"},
        {"op": "max_pool2d", "kernel_size": 2}]} for seed, image_id in enumerate(ids)]


async def _send_all(url: str, ids: list[str], transport: str = "json") -> float:
    """Every pipeline sent at once, each on its own connection (bench.common.post_read); the wall time until the
    last answer has been read whole."""
    bodies = [orjson.dumps(b) for b in _burst_bodies(ids, transport)]
    t = time.perf_counter()
    replies = await asyncio.gather(*(post_read(url, "/api/v1/pipeline", b) for b in bodies))
    wall = time.perf_counter() - t
    assert all(status == 200 and len(body) > 1_000_000 for status, body in replies), \
        [body[:200] for status, body in replies if status != 200][:1]
    return wall


async def _send_all_httpx(url: str, ids: list[str], transport: str = "json") -> float:
    """The same through httpx's AsyncClient, whose parsing of the answers runs on the server's cores too."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        bodies = _burst_bodies(ids, transport)
        t = time.perf_counter()
        replies = await asyncio.gather(*(client.post("/api/v1/pipeline", json=b) for b in bodies))
        wall = time.perf_counter() - t
    assert all(r.status_code == 200 and len(r.content) > 1_000_000 for r in replies), \
        [r.text[:200] for r in replies if r.status_code != 200][:1]
    return wall


def burst(quick: bool = False) -> list[Row]:
    """Both transports: "stream" (binary frames, what the lab reads) and "json" (base64 maps in one body), read by
    a lean client; and, beside them, the same read by httpx, to show what the client's own CPU adds. Each row also
    gives the server's CPU time a pipeline (all its threads, and its event loop's share), from /proc."""
    pngs = [_png(512, 100 + i) for i in range(BURST)]
    images = [np.asarray(Image.open(io.BytesIO(p)), dtype=np.float32).transpose(2, 0, 1) / 255 for p in pngs]
    senders = {"stream": (_send_all, "stream"), "json": (_send_all, "json"),
               "stream, read by httpx": (_send_all_httpx, "stream"), "json, read by httpx": (_send_all_httpx, "json")}
    walls: dict[str, list[float]] = {name: [] for name in senders}
    cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in senders}
    plains: list[float] = []
    with serve_process(env={"CONVSCOPE_QUEUE_TIMEOUT_S": "300"}) as served:  # a burst queues; none may be refused
        url, pid = served.url, served.proc.pid
        ids = [httpx.post(url + "/api/v1/images", files={"file": ("b.png", p, "image/png")}, timeout=60).json()["id"]
               for p in pngs]
        asyncio.run(_send_all(url, ids[:4]))  # warm-up
        # the transports and plain torch (the server idle meanwhile) take turns, so a drift of the machine hits all
        for _ in range(1 if quick else 3):
            for name, (send, transport) in senders.items():
                before = procmem.cpu_seconds(pid), procmem.main_thread_cpu_seconds(pid)
                walls[name].append(asyncio.run(send(url, ids, transport)))
                cpu[name].append((procmem.cpu_seconds(pid) - before[0], procmem.main_thread_cpu_seconds(pid) - before[1]))
            plains.append(_burst_torch_s(images))
    plain = min(plains)

    def server_cpu(name: str) -> str:
        total, loop = (statistics.median(c[k] for c in cpu[name]) * 1e3 / BURST for k in (0, 1))
        return f"server CPU {total:.0f} ms a pipeline, {loop:.1f} of it on the event loop"

    return [Row("networks", f"a burst of {BURST} distinct 512² pipelines at once ({t}; conv 3→16, relu, max pool, "
                            "maps at 256 px)", f"{min(w):.2f} s (torch back to back {plain:.2f} s; {server_cpu(t)})",
                f"{min(w) / plain:.2f}× torch (goal ≤ 1.0)") for t, w in walls.items()]


def run(quick: bool = False) -> list[Row]:
    return [*resnet18(quick), *burst(quick)]


if __name__ == "__main__":
    for row in resnet18():
        print(row)
    for row in burst():
        print(row)
