"""End-to-end cost of the image lab's pipeline against raw torch (not a test).

For 512² and 1024² RGB images and conv 3->16 3×3 (padding 1), relu, max pool 2: time from the
request being sent to every map received and base64-decoded, over the time torch alone takes for
the same float32 pipeline in this process (CPU). Run: .venv/bin/python -m bench.image_pipeline
"""
from __future__ import annotations

import base64
import io
import statistics
import time

import httpx
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from bench.common import serve

LAYERS = [{"op": "conv2d", "kernel": "random", "seed": 0, "out_channels": 16, "padding": 1}, {"op": "relu"},
          {"op": "max_pool2d", "kernel_size": 2}]
REPEATS = 7


def _png(side: int) -> tuple[bytes, np.ndarray]:
    arr = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue(), arr.transpose(2, 0, 1).astype(np.float32) / 255


def _torch_ms(pixels: np.ndarray) -> float:
    x = torch.tensor(pixels)[None]
    w = torch.randn(16, 3, 3, 3) / 27 ** 0.5
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        with torch.no_grad():
            y1 = F.conv2d(x, w, padding=1)
            y2 = F.relu(y1)
            y3 = F.max_pool2d(y2, 2)
        _ = (y1.numpy(), y2.numpy(), y3.numpy())
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def _e2e(client: httpx.Client, url: str, image_id: str, max_side: int) -> tuple[float, int, int, list[int]]:
    times, nbytes, nmaps = [], 0, 0
    for _ in range(REPEATS):
        t = time.perf_counter()
        r = client.post(url + "/api/v1/pipeline", json={"image": {"id": image_id}, "layers": LAYERS,
                                                        "max_side": max_side, "encoding": "raw"})
        body = r.json()
        maps = [m for layer in body["layers"] for m in layer["maps"]]
        decoded = [base64.b64decode(m["data"]) for m in maps]
        times.append(time.perf_counter() - t)
        nmaps, nbytes = len(decoded), sum(len(d) for d in decoded)
        sizes = sorted({len(d) for d in decoded})
        assert r.status_code == 200
    return statistics.median(times) * 1e3, nmaps, nbytes, sizes


def main() -> None:
    rows = []
    with serve() as url, httpx.Client(timeout=120) as client:
        for side in (512, 1024):
            data, pixels = _png(side)
            image_id = client.post(url + "/api/v1/images", files={"file": ("b.png", data, "image/png")}).json()["id"]
            raw = _torch_ms(pixels)
            for max_side in (256, 1024):
                ms, nmaps, nbytes, sizes = _e2e(client, url, image_id, max_side)
                rows.append((side, max_side, raw, ms, nmaps, nbytes, sizes))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, median of {REPEATS}")
    print(f"{'image':>7} {'display':>7} {'torch ms':>9} {'e2e ms':>8} {'ratio':>6} {'maps':>5} "
          f"{'bytes/map (min..max)':>22} {'response MB':>11}")
    for side, max_side, raw, ms, nmaps, nbytes, sizes in rows:
        per = f"{sizes[0]:,}..{sizes[-1]:,}"
        print(f"{side:>5}² {max_side:>7} {raw:>9.1f} {ms:>8.1f} {ms / raw:>6.1f} {nmaps:>5} {per:>22} "
              f"{nbytes * 4 / 3 / 1e6:>11.2f}")


if __name__ == "__main__":
    main()
