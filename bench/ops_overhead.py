"""Ops API overhead: a small conv2d through HTTP vs /health, and in-process vs the raw F.conv2d call.

    python -m bench.ops_overhead [--seconds 5]

Both ratios are measured side by side in one run on one machine.
"""
from __future__ import annotations

import argparse
import datetime
import timeit

import httpx
import numpy as np
import torch
import torch.nn.functional as F

from convscope.app import create_app
from convscope.core.ops import run_op
from convscope.settings import Settings

from .common import Row, load, machine, serve

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 3, 4, 4))
BODY = {"input": X.tolist(), "weight": rng.standard_normal((3, 3, 4, 4)).tolist()}  # the sizes


def in_process(number: int = 2000) -> dict[str, float]:
    """Seconds per call: raw torch, the core (parse + validate + torch + numpy), and the whole ASGI app."""
    tx = torch.as_tensor(X)
    tw = torch.as_tensor(np.array(BODY["weight"]))
    raw = min(timeit.repeat(lambda: F.conv2d(tx, tw), number=number, repeat=3)) / number
    core = min(timeit.repeat(lambda: run_op("conv2d", BODY), number=number // 4, repeat=3)) / (number // 4)
    transport = httpx.ASGITransport(app=create_app(Settings(device="cpu")))

    import asyncio

    async def asgi_calls(n: int) -> float:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.post("/api/v1/ops/conv2d", json=BODY)
            t0 = asyncio.get_running_loop().time()
            for _ in range(n):
                await client.post("/api/v1/ops/conv2d", json=BODY)
            return (asyncio.get_running_loop().time() - t0) / n

    app_call = asyncio.run(asgi_calls(number // 8))
    return {"raw": raw, "core": core, "app": app_call}


def measure(seconds: float = 5.0) -> dict[str, dict[str, float]]:
    """In-process times and the two HTTP loads, side by side on one machine."""
    torch.set_num_threads(1)
    t = in_process()
    with serve() as url:
        load(url, "GET", "/api/v1/health", seconds=1)  # warm up
        health = load(url, "GET", "/api/v1/health", seconds=seconds)
        conv = load(url, "POST", "/api/v1/ops/conv2d", BODY, seconds=seconds)
    return {"time": t, "health": health, "conv": conv}


def rows(m: dict[str, dict[str, float]]) -> list[Row]:
    t, health, conv = m["time"], m["health"], m["conv"]
    return [
        Row("ops", "raw F.conv2d (2×3×4×4 input, 3×3×4×4 weight)", f"{t['raw'] * 1e6:.1f} µs", "1.0"),
        Row("ops", "core run_op (parse, validate, torch, numpy)", f"{t['core'] * 1e6:.1f} µs",
            f"{t['core'] / t['raw']:.1f}× raw"),
        Row("ops", "whole app in-process (ASGI, JSON both ways)", f"{t['app'] * 1e6:.1f} µs",
            f"{t['app'] / t['raw']:.1f}× raw"),
        Row("ops", "HTTP /health, 8 connections", f"{health['rps']:.0f} req/s (p99 {health['p99_ms']:.1f} ms)", "1.00"),
        Row("ops", "HTTP conv2d, 8 connections",
            f"{conv['rps']:.0f} req/s (p99 {conv['p99_ms']:.1f} ms, {conv['errors']} errors)",
            f"{conv['rps'] / health['rps']:.2f} of /health (goal ≥ 0.5)"),
    ]


def run(quick: bool = False) -> list[Row]:
    return rows(measure(seconds=1.5 if quick else 5.0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"# ops overhead · {datetime.date.today()} · {machine()}")
    print("| measure | value | ratio |")
    print("|---|---|---|")
    for row in rows(measure(args.seconds)):
        print(f"| {row.measure} | {row.value} | {row.ratio} |")


if __name__ == "__main__":
    main()
