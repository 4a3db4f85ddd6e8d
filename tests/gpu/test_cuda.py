"""On a CUDA machine (scripts/gpu-check): the server computes on the GPU, float32 stays float32 (TF32 off),
graded answers stay exact float64 on the CPU, and running out of device memory is a 503, not a crash.

Skipped where torch sees no GPU, unless CONVSCOPE_REQUIRE_GPU is set (then a missing GPU fails)."""
from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from convscope.app import create_app
from convscope.settings import Settings

if not torch.cuda.is_available():
    if os.environ.get("CONVSCOPE_REQUIRE_GPU"):
        pytest.fail("CONVSCOPE_REQUIRE_GPU is set but torch sees no GPU", pytrace=False)
    pytest.skip("torch sees no GPU: these run in scripts/gpu-check", allow_module_level=True)

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(device="cuda")), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def cpu() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(device="cpu"))) as c:
        yield c


def _png(side: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _maps(reply: dict) -> list[np.ndarray]:
    return [np.stack([np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["height"], m["width"])
                      for m in layer["maps"]]) for layer in reply["layers"]]


def test_the_server_computes_on_the_gpu_with_tf32_off(gpu: TestClient) -> None:
    assert gpu.app.state.device.startswith("cuda")  # type: ignore[attr-defined]
    assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
    assert gpu.get("/api/v1/health").status_code == 200


def test_ops_on_the_gpu_equal_the_cpu(gpu: TestClient, cpu: TestClient) -> None:
    rng = np.random.default_rng(1)
    body = {"input": rng.standard_normal((1, 4, 9, 9)).tolist(), "weight": rng.standard_normal((6, 2, 3, 3)).tolist(),
            "stride": 2, "padding": 1, "dilation": 2, "groups": 2,
            "grad_output": rng.standard_normal((1, 6, 4, 4)).tolist()}
    on_gpu, on_cpu = (c.post("/api/v1/ops/conv2d", json=body) for c in (gpu, cpu))
    assert on_gpu.status_code == on_cpu.status_code == 200, on_gpu.text
    for key in ("output", "grad_input", "grad_weight"):
        np.testing.assert_allclose(on_gpu.json()[key], on_cpu.json()[key], rtol=1e-10, atol=1e-10, err_msg=key)


def test_pipeline_maps_on_the_gpu_equal_the_cpu(gpu: TestClient, cpu: TestClient) -> None:
    layers = [{"op": "conv2d", "kernel": "sobel_x", "padding": 1}, {"op": "relu"},
              {"op": "max_pool2d", "kernel_size": 2}, {"op": "conv2d", "out_channels": 8, "kernel_size": 3, "seed": 3}]
    replies = []
    for c in (gpu, cpu):
        image = c.post("/api/v1/images", files={"file": ("g.png", _png(256), "image/png")}).json()["id"]
        r = c.post("/api/v1/pipeline", json={"image": {"id": image}, "layers": layers, "encoding": "f32",
                                             "max_side": 256})
        assert r.status_code == 200, r.text
        replies.append(_maps(r.json()))
    for got, want in zip(*replies):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_graded_answers_do_not_depend_on_the_device(gpu: TestClient, cpu: TestClient) -> None:
    kinds = cpu.get("/api/v1/exercises/kinds").json()["kinds"]
    for kind in kinds:
        name = kind["kind"] if isinstance(kind, dict) else kind
        body = {"kind": name, "seed": 7, "difficulty": "medium"}
        assert gpu.post("/api/v1/exercises", json=body).content == cpu.post("/api/v1/exercises", json=body).content


def test_out_of_device_memory_is_a_503_and_the_server_recovers(gpu: TestClient) -> None:
    image = gpu.post("/api/v1/images", files={"file": ("big.png", _png(1024, 2), "image/png")}).json()["id"]
    body = {"image": {"id": image}, "max_side": 1024,
            "layers": [{"op": "conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1, "seed": 1}] * 4}
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(1e-5)  # a few MiB of the device: the 64-channel maps do not fit
    try:
        r = gpu.post("/api/v1/pipeline", json=body)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert r.status_code == 503 and r.json()["ok"] is False and "Retry-After" in r.headers, r.text
    assert gpu.post("/api/v1/pipeline", json=body).status_code == 200
