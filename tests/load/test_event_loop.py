"""The event loop only routes: torch jobs, image resizing, sample images and PNG previews run in the app's
worker threads, which exist from start-up to shutdown; every built-in image is ready at every work size."""
from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from convscope.app import create_app
from convscope.core import samples
from convscope.core.encoding import PNG_THREADS
from convscope.core.samples import SAMPLE_IDS, WORK_SIDES, default_side, offered_sides
from convscope.routes import deps
from convscope.routes import images as images_route
from convscope.routes import lab as lab_route
from convscope.settings import Settings

LAYERS = [{"op": "conv2d", "kernel": "sobel_x"}, {"op": "relu"}, {"op": "max_pool2d", "kernel_size": 2}]


@pytest.fixture()
def app() -> Any:
    return create_app(Settings(device="cpu"))


@pytest.fixture()
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _png(size: tuple[int, int] = (300, 200)) -> bytes:
    arr = np.random.default_rng(3).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_health_is_answered_while_a_pipeline_runs(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline held inside its compute job does not hold the loop: /health answers meanwhile, and the
    pipeline then finishes with its maps."""
    started, release = threading.Event(), threading.Event()
    real = lab_route.run_pipeline

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(60), "the test never released the pipeline"
        return real(*args, **kwargs)

    monkeypatch.setattr(lab_route, "run_pipeline", held)
    order: list[str] = []

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                answers: dict[str, httpx.Response] = {}

                async def run() -> None:
                    answers["pipeline"] = await http.post("/api/v1/pipeline", json={
                        "image": {"sample": "camera"}, "image_max_side": 256, "layers": LAYERS})
                    order.append("pipeline")

                async with anyio.create_task_group() as tg:
                    tg.start_soon(run)
                    for _ in range(6000):  # until the job is inside its thread (a bound, not a timing)
                        if started.is_set():
                            break
                        await anyio.sleep(0.01)
                    assert started.is_set(), "the pipeline job never started"
                    health = await http.get("/api/v1/health")
                    order.append("health")
                    assert health.json()["compute"]["running"] == 1  # the pipeline holds its slot meanwhile
                    release.set()
                return health, answers["pipeline"]

    health, pipeline = anyio.run(scenario)
    assert order == ["health", "pipeline"]
    assert health.status_code == 200 and health.json()["ok"] is True
    assert pipeline.status_code == 200, pipeline.text
    body = pipeline.json()
    assert body["image"]["width"] == 256 and len(body["layers"]) == len(LAYERS)


def _thread_of(calls: list[str], fn: Any) -> Any:
    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.current_thread().name)
        return fn(*args, **kwargs)
    return spy


def test_resizing_an_upload_its_png_and_the_json_run_in_the_worker_threads(client: TestClient,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.images
    resized: list[str] = []
    pngs: list[str] = []
    monkeypatch.setattr(store, "get_sized", _thread_of(resized, store.get_sized))
    monkeypatch.setattr(images_route, "png_of", _thread_of(pngs, images_route.png_of))
    bodies: list[str] = []
    monkeypatch.setattr(deps, "JSONResponse", _thread_of(bodies, deps.JSONResponse))
    image_id = client.post("/api/v1/images", files={"file": ("a.png", _png(), "image/png")}).json()["id"]
    r = client.post("/api/v1/pipeline", json={"image": {"id": image_id}, "image_max_side": 64, "layers": LAYERS})
    assert r.status_code == 200 and r.json()["image"]["width"] == 64
    r = client.post("/api/v1/pipeline/probe", json={"image": {"id": image_id}, "image_max_side": 128,
                                                     "layers": LAYERS, "unit": {"layer": 3, "y": 5, "x": 5}})
    assert r.status_code == 200 and r.json()["image"]["width"] == 128
    assert client.get(f"/api/v1/images/{image_id}/png").headers["content-type"] == "image/png"
    assert len(resized) == 2 and all(name.startswith("convscope-compute") for name in resized), resized
    assert pngs and all(name.startswith("convscope-side") for name in pngs), pngs
    assert len(bodies) == 2 and all(name.startswith("convscope-side") for name in bodies), bodies  # serialised


def test_the_pools_are_made_at_start_up_and_shut_down_after_it(app: Any) -> None:
    gate = app.state.gate
    assert gate.pool.executor is None and gate.side.executor is None  # none before start-up
    shared = PNG_THREADS.executor is not None  # another app of this process runs (the PNG threads are shared)
    with TestClient(app, raise_server_exceptions=False) as c:
        pools = [gate.pool.executor, gate.side.executor, PNG_THREADS.executor]
        assert all(p is not None for p in pools)
        # the png encoding runs a multi-channel map through the PNG threads; the sample PNG, the side pool
        r = c.post("/api/v1/pipeline", json={"image": {"sample": "astronaut"}, "image_max_side": 64,
                                             "encoding": "png", "layers": [{"op": "relu"}]})
        assert r.status_code == 200 and c.get("/api/v1/samples/astronaut/png").status_code == 200
        threads = [t for p in pools for t in p._threads]
        assert all(p._threads for p in pools) and all(t.is_alive() for t in threads)
    assert gate.pool.executor is None and gate.side.executor is None
    ours = pools if not shared else pools[:2]
    assert all(p._shutdown for p in ours) and not any(t.is_alive() for p in ours for t in p._threads)
    assert (PNG_THREADS.executor is pools[2]) if shared else PNG_THREADS.executor is None


def _expected(image_max_side: int) -> set[tuple[str, int]]:
    largest = min(samples.DEFAULT_SIZE, image_max_side)
    return {(name, min(side, largest)) for name in SAMPLE_IDS for side in [*offered_sides(image_max_side), largest]}


@pytest.mark.parametrize("image_max_side", [1024, 200])
def test_the_sample_cache_holds_every_sample_at_every_work_size_after_start_up(image_max_side: int) -> None:
    app = create_app(Settings(device="cpu", image_max_side=image_max_side))
    assert app.state.samples.held() == set()
    with TestClient(app) as c:
        assert app.state.samples.wait(120), "start-up never finished making the samples"
        assert app.state.samples.held() == _expected(image_max_side)
        page = c.get("/lab").text
        menu = re.search(r'<select id="lab-side">(.*?)</select>', page, re.S).group(1)  # type: ignore[union-attr]
        assert [int(v) for v in re.findall(r'value="(\d+)"', menu)] == offered_sides(image_max_side)
        assert re.findall(r'value="(\d+)" selected', menu) == [str(default_side(image_max_side))]
    assert offered_sides(1024) == list(WORK_SIDES) and default_side(1024) == samples.DEFAULT_WORK_SIDE
    assert default_side(200) == 128


def test_every_work_size_of_every_sample_is_served_from_the_cache(client: TestClient,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a sample was made on request: {args} {kwargs}")

    assert client.app.state.samples.wait(120), "start-up never finished making the samples"
    monkeypatch.setattr(lab_route, "load_sample", refuse)
    monkeypatch.setattr(images_route, "load_sample", refuse)
    monkeypatch.setattr(images_route, "list_samples", refuse)
    assert [s["id"] for s in client.get("/api/v1/samples").json()["samples"]] == list(SAMPLE_IDS)
    for name in SAMPLE_IDS:
        assert client.get(f"/api/v1/samples/{name}").status_code == 200
        for side in offered_sides(1024):
            r = client.post("/api/v1/pipeline", json={"image": {"sample": name}, "image_max_side": side,
                                                      "layers": [{"op": "relu"}], "max_side": 128})
            assert r.status_code == 200, (name, side, r.text)
            assert max(r.json()["image"]["width"], r.json()["image"]["height"]) <= side
