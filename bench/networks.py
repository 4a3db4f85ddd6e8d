"""Networks in-process: /shapes and /receptive-field of a 50-layer network and of the catalogue's models.

Each request goes through the whole app (routing, validation, the core, JSON) with an in-process client,
median of several runs. Goals: ≤ 20 ms for a 50-layer network, ≤ 100 ms for ResNet-50's receptive field.
Then bench/models_pipeline.py: a catalogue ResNet-18 and a burst of pipelines against plain torch.
`python -m bench networks`.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

from fastapi.testclient import TestClient

from convscope.app import create_app
from convscope.core.models import catalogue

from .common import Row


def _fifty_layers() -> dict[str, Any]:
    """25 residual 3×3 conv + add pairs on 64 channels at 56×56: 50 layers, every add a skip."""
    layers: list[dict[str, Any]] = [{"op": "conv2d", "name": "stem", "out_channels": 64, "kernel_size": 3,
                                     "padding": 1}]
    previous = "stem"
    for i in range(24):
        layers.append({"op": "conv2d", "name": f"conv{i}", "out_channels": 64, "kernel_size": 3, "padding": 1,
                       "input": previous})
        layers.append({"op": "add", "name": f"add{i}", "inputs": [f"conv{i}", previous]})
        previous = f"add{i}"
    layers.append({"op": "relu", "name": "relu"})
    return {"input_shape": [64, 56, 56], "input_size": [56, 56], "layers": layers}


def _median_ms(client: TestClient, path: str, body: dict[str, Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        reply = client.post(path, json=body)
        times.append(time.perf_counter() - start)
        assert reply.status_code == 200, reply.text
    return statistics.median(times) * 1e3


def run(quick: bool = False) -> list[Row]:
    repeats = 3 if quick else 9
    rows = []
    with TestClient(create_app()) as client:
        cases = [("50-layer residual network", _fifty_layers(), 20.0)]
        cases += [(model_id, catalogue.network(model_id), 100.0) for model_id in ("resnet18", "resnet50", "vgg16")]
        for label, body, goal in cases:
            for path in ("/api/v1/shapes", "/api/v1/receptive-field"):
                ms = _median_ms(client, path, body, repeats)
                rows.append(Row("networks", f"{path.rsplit('/', 1)[1]} of {label} ({len(body['layers'])} layers)",
                                f"{ms:.1f} ms", f"{ms / goal:.2f} of the {goal:g} ms goal"))
    from . import models_pipeline  # models and bursts through /pipeline, against plain torch

    return rows + models_pipeline.run(quick)


if __name__ == "__main__":
    for row in run():
        print(row)
