"""End-to-end cost of the image lab's pipeline against raw torch (not a test).

For 512² and 1024² RGB images and conv 3->16 3×3 (padding 1), relu, max pool 2: the time from the
request being sent to every map received and decoded into arrays, over the time torch alone takes for
the same float32 pipeline in this process, with the server's thread count (cores ÷ compute slots), all
measured in one run (plain torch in its faster memory format, NCHW or channels-last). Two transports: "stream" (binary frames, what the page uses) and "json" (base64
inside JSON). Raw torch at torch's default thread count is shown too. Run: python -m bench.image_pipeline
"""
from __future__ import annotations

import base64
import io
import math
import os
import statistics
import time
from typing import Any

import httpx
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from bench.common import serve
from convscope.settings import Settings
from tests.frames import map_bytes, read_frames

LAYERS = [{"op": "conv2d", "kernel": "random", "seed": 0, "out_channels": 16, "padding": 1}, {"op": "relu"},
          {"op": "max_pool2d", "kernel_size": 2}]
REPEATS = 9


def server_threads() -> int:
    s = Settings.from_env()
    return s.torch_threads or max(1, (os.cpu_count() or 1) // s.max_concurrency)


def _png(side: int) -> tuple[bytes, np.ndarray]:
    arr = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue(), arr.transpose(2, 0, 1).astype(np.float32) / 255


def _torch_ms(pixels: np.ndarray, threads: int) -> float:
    """The pipeline in plain torch, in whichever memory format is faster here (the server uses channels-last).

    The pixels are made C-contiguous first, as the server makes its input: seen as C×H×W, the decoded H×W×C
    image carries channels-last strides with a batch stride of 3, which torch's CPU convolution does not take as
    channels-last (and .contiguous(memory_format=channels_last) leaves as it is), so it ran its slow path:
    34 ms for 512² in place of ~8 ms on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    w = torch.randn(16, 3, 3, 3) / 27 ** 0.5
    best = math.inf
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.from_numpy(np.ascontiguousarray(pixels))[None].contiguous(memory_format=layout)
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            with torch.no_grad():
                y1 = F.conv2d(x, w, padding=1)
                y2 = F.relu(y1)
                y3 = F.max_pool2d(y2, 2)
            _ = (y1.numpy(), y2.numpy(), y3.numpy())
            times.append(time.perf_counter() - t)
        best = min(best, statistics.median(times) * 1e3)
    torch.set_num_threads(before)
    return best


def _stream_once(client: httpx.Client, url: str, body: dict[str, Any]) -> list[np.ndarray]:
    maps = []
    with client.stream("POST", url + "/api/v1/pipeline", json={**body, "transport": "stream"}) as r:
        assert r.status_code == 200
        for header, payload in read_frames(r.iter_raw()):
            if header["event"] == "maps":
                maps += [np.frombuffer(b, np.uint8).reshape(m["height"], m["width"])
                         for m, b in zip(header["maps"], map_bytes(header, payload))]
    return maps


def _json_once(client: httpx.Client, url: str, body: dict[str, Any]) -> list[np.ndarray]:
    r = client.post(url + "/api/v1/pipeline", json=body)
    assert r.status_code == 200
    blocks = [r.json()["input"], *r.json()["layers"]]
    return [np.frombuffer(base64.b64decode(m["data"]), np.uint8).reshape(m["height"], m["width"])
            for b in blocks for m in b["maps"]]


def _e2e(fn: Any, client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[float, list[np.ndarray]]:
    fn(client, url, body)  # warm
    times, maps = [], []
    for _ in range(REPEATS):
        t = time.perf_counter()
        maps = fn(client, url, body)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3, maps


def run(sides: tuple[int, ...] = (512, 1024), displays: tuple[int, ...] = (256,)) -> list[dict[str, Any]]:
    """One row per (image side, display side, transport), each with its raw-torch baselines."""
    rows = []
    threads = server_threads()
    with serve() as url, httpx.Client(timeout=120) as client:
        for side in sides:
            data, pixels = _png(side)
            image_id = client.post(url + "/api/v1/images", files={"file": ("b.png", data, "image/png")}).json()["id"]
            for max_side in displays:
                body = {"image": {"id": image_id}, "layers": LAYERS, "max_side": max_side, "encoding": "raw"}
                for name, fn in (("stream", _stream_once), ("json", _json_once)):
                    raw = _torch_ms(pixels, threads)
                    ms, maps = _e2e(fn, client, url, body)
                    raw_default = _torch_ms(pixels, torch.get_num_threads())
                    rows.append({"image": side, "display": max_side, "transport": name, "torch_ms": raw,
                                 "torch_default_ms": raw_default, "e2e_ms": ms, "ratio": ms / raw, "maps": len(maps),
                                 "bytes_per_map": sorted({m.size for m in maps})})
    return rows


def main() -> None:
    rows = run()
    print(f"torch {torch.__version__}, server threads {server_threads()} (torch default {torch.get_num_threads()}), "
          f"CPU, median of {REPEATS}")
    print(f"{'image':>7} {'display':>7} {'transport':>9} {'torch ms':>9} {'e2e ms':>8} {'ratio':>6} "
          f"{'(vs default threads)':>20} {'maps':>5} {'bytes/map':>16}")
    for r in rows:
        per = "..".join(f"{b:,}" for b in (r["bytes_per_map"][0], r["bytes_per_map"][-1]))
        print(f"{r['image']:>5}² {r['display']:>7} {r['transport']:>9} {r['torch_ms']:>9.1f} {r['e2e_ms']:>8.1f} "
              f"{r['ratio']:>6.2f} {r['e2e_ms'] / r['torch_default_ms']:>20.2f} {r['maps']:>5} {per:>16}")


if __name__ == "__main__":
    main()
