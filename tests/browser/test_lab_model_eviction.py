"""An uploaded model the server lets go of (its model store is full) is uploaded again by the lab on its own: in
real headless Chromium against a server whose model store holds one small model at a time."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import live

from .test_lab_models import _until

pytestmark = pytest.mark.browser
STORE_BYTES = 16_000  # one of the models below (2,560 float32 parameters: 10,240 bytes), not two


def _onnx(path: Any, seed: int) -> bytes:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
                              *[torch.nn.Conv2d(8, 8, 3, padding=1) for _ in range(4)], torch.nn.MaxPool2d(2))
    assert sum(p.numel() for p in net.parameters()) == 2_560
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its own deprecation
        torch.onnx.export(net.eval(), torch.zeros(1, 3, 32, 32), str(path), dynamo=False, opset_version=17)
    return path.read_bytes()


@pytest.fixture(scope="module")
def small_store() -> Iterator[str]:
    with live.live_server(env={"CONVSCOPE_MODEL_CACHE_BYTES": str(STORE_BYTES)}) as server:
        yield server.url


def _drawn(page: Any, model: str) -> None:
    _until(page, f"document.body.dataset.model === '{model}' && document.body.dataset.stale === 'false' && "
                 "document.body.dataset.ran === 'true'")


def test_an_evicted_upload_is_uploaded_again_and_drawn(browser, small_store, tmp_path):
    _onnx(tmp_path / "mine.onnx", 1)
    other = _onnx(tmp_path / "other.onnx", 2)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    seen: list[tuple[str, str, int]] = []
    page.on("response", lambda r: seen.append((r.request.method, r.url.removeprefix(small_store), r.status)))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{small_store}/lab?sample=chelsea&side=64")
        page.wait_for_selector("body[data-ready='true']", timeout=30_000)
        page.set_input_files("#lab-model-file", str(tmp_path / "mine.onnx"))
        _until(page, "/^[0-9a-f]{64}$/.test(document.body.dataset.model || '')")
        model_id = page.evaluate("() => document.body.dataset.model")
        _drawn(page, model_id)
        # another upload fills the store: the page's model is let go
        r = httpx.post(f"{small_store}/api/v1/models", files={"file": ("other.onnx", other, "application/octet-stream")})
        assert r.status_code == 200, r.text
        assert r.json()["id"] != model_id
        assert httpx.get(f"{small_store}/api/v1/models/{model_id}").status_code == 404
        seen.clear()
        page.evaluate("() => { document.body.dataset.ran = 'false'; }")
        page.click("#lab-run")
        _drawn(page, model_id)
        # the run was refused (404), the page sent its copy of the file again, and the run that followed drew
        pipeline = [s for m, u, s in seen if m == "POST" and u.startswith("/api/v1/pipeline")]
        assert pipeline[0] == 404 and pipeline[-1] == 200, seen
        assert ("POST", "/api/v1/models", 200) in seen, seen
        assert httpx.get(f"{small_store}/api/v1/models/{model_id}").status_code == 200
        assert page.locator(".lab-layer[data-entry='1'] canvas").count() == 8
        assert page.locator("#lab-error").is_hidden()
        assert errors == []
    finally:
        context.close()
