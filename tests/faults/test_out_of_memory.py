"""Running out of device memory inside a torch job: a 503 with Retry-After and a sentence, then normal service.

There is no GPU here, so a torch call is made to fail the way each allocator does: CUDA's
torch.OutOfMemoryError, the RuntimeError of an older CUDA path, the CPU allocator's RuntimeError,
and Python's MemoryError. ComputeGate.call translates them, the one place every torch job passes.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient

from convscope import compute
from convscope.app import create_app
from convscope.compute import ComputeGate, DeviceOutOfMemory, Overloaded
from convscope.core.exceptions import InvalidRequest
from convscope.settings import Settings

from .helpers import TINY_CONV

FAILURES = [
    pytest.param(lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 1.00 GiB "
                                                "free)"), id="torch-OutOfMemoryError"),
    pytest.param(lambda: RuntimeError("CUDA error: out of memory"), id="cuda-runtime-error"),
    pytest.param(lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
                                      "memory: you tried to allocate 1099511627776 bytes. Error code 12 (Cannot "
                                      "allocate memory)"), id="cpu-allocator"),
    pytest.param(lambda: MemoryError(), id="python-MemoryError"),
]


def _raiser(make: Callable[[], BaseException]) -> Callable[..., Any]:
    def job(*args: Any, **kwargs: Any) -> Any:
        raise make()

    return job


def _assert_sentence(message: str) -> None:
    assert "ran out of memory" in message and "smaller image" in message and "fewer channels" in message, message


@pytest.mark.parametrize("make", FAILURES)
def test_gate_translates_out_of_memory_and_frees_the_slot(make: Callable[[], BaseException]) -> None:
    gate = ComputeGate(concurrency=1, max_queue=4, timeout_s=5)

    async def main() -> None:
        with pytest.raises(DeviceOutOfMemory) as info:
            await gate.run(_raiser(make))
        assert isinstance(info.value, Overloaded) and info.value.status == 503
        _assert_sentence(info.value.message)
        assert gate.running == 0 and gate.stats()["out_of_memory"] == 1
        assert await gate.run(lambda: 42) == 42  # the next job runs normally

    anyio.run(main)


@pytest.mark.parametrize("exc", [
    pytest.param(RuntimeError("Given groups=1, weight of size [1, 2, 3, 3], expected input to have 2 channels"),
                 id="other-runtime-error"),
    pytest.param(InvalidRequest("a refusal with its own sentence"), id="convscope-error"),
    pytest.param(ValueError("out of memory"), id="value-error-mentioning-memory"),
])
def test_gate_leaves_other_errors_alone(exc: Exception) -> None:
    gate = ComputeGate(concurrency=1, max_queue=4, timeout_s=5)

    async def main() -> None:
        with pytest.raises(type(exc)) as info:
            await gate.run(_raiser(lambda: exc))
        assert info.value is exc and gate.stats()["out_of_memory"] == 0

    anyio.run(main)


def test_cuda_cache_is_emptied_after_an_out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    emptied: list[bool] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    gate = ComputeGate(concurrency=1, max_queue=4, timeout_s=5)

    async def main() -> None:
        with pytest.raises(DeviceOutOfMemory):
            await gate.run(_raiser(lambda: torch.OutOfMemoryError("CUDA out of memory.")))

    anyio.run(main)
    assert emptied == [True]


def test_no_cuda_call_on_a_cpu_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: pytest.fail("empty_cache on a machine without CUDA"))
    compute.release_device_memory()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(device="cpu")), raise_server_exceptions=False) as c:
        yield c


def _fail_once(monkeypatch: pytest.MonkeyPatch, name: str, make: Callable[[], BaseException]) -> None:
    """Make torch.nn.functional.<name> fail once, as an allocation would, then behave."""
    real = getattr(F, name)
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise make()
        return real(*args, **kwargs)

    monkeypatch.setattr(F, name, flaky)


REQUESTS = [
    pytest.param("/api/v1/ops/conv2d", TINY_CONV, id="ops-conv2d"),
    pytest.param("/api/v1/pipeline", {"image": {"sample": "checkerboard"}, "max_side": 64,
                                      "layers": [{"op": "conv2d", "kernel": "sobel_x", "padding": 1}]}, id="pipeline"),
]


@pytest.mark.parametrize("make", FAILURES)
@pytest.mark.parametrize("path,body", REQUESTS)
def test_api_answers_503_with_retry_after_then_recovers(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                        make: Callable[[], BaseException], path: str,
                                                        body: dict[str, Any]) -> None:
    _fail_once(monkeypatch, "conv2d", make)
    r = client.post(path, json=body)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"].isdigit()
    envelope = r.json()
    assert envelope["ok"] is False and envelope["status"] == 503 and envelope["errors"]
    _assert_sentence(envelope["error"])
    again = client.post(path, json=body)
    assert again.status_code == 200, again.text
