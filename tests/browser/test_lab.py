"""The image lab in real headless Chromium: images in by file, paste, drop and a (fake) camera; feature maps;
a click's receptive field, effective field and hypercolumn; progress and cancel; re-upload after eviction;
linked zoom; the sweep."""
from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import ARGS, CHROMIUM

pytestmark = pytest.mark.browser
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """This module's browser also has Chromium's fake camera (a test pattern) and grants it without asking."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CONVSCOPE_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium is required (CONVSCOPE_REQUIRE_BROWSER is set) but {CHROMIUM} is missing")
        pytest.skip("Chromium is not installed; scripts/test installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + FAKE_CAMERA)
        yield chromium
        chromium.close()


def _png(width: int = 96, height: int = 64) -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([((x // 8 + y // 8) % 2) * 255, x * 255 // width, y * 255 // height], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _open(page: Any, url: str) -> None:
    page.goto(url + "/lab")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)


def _run(page: Any, timeout: int = 30_000) -> None:
    page.click("#lab-run")
    page.wait_for_selector("body[data-ran='true']", timeout=timeout)


def _use_layers(page: Any, layers: list[dict]) -> None:
    page.click(".lab-json summary")
    page.fill("#lab-json", json.dumps(layers))
    page.click("#lab-json-apply")


def _click_input_point(page: Any, canvas: Any, y: float, x: float, size: tuple[int, int]) -> None:
    """Click the place over input pixel coordinates (y, x) on a map canvas (the view is the whole image)."""
    box = canvas.bounding_box()
    h, w = size
    page.mouse.click(box["x"] + x / w * box["width"], box["y"] + y / h * box["height"])


def _until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS expression (page.evaluate is not bound by the page's CSP, wait_for_function is)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.1)


def _pixel(page: Any, selector: str, x: int, y: int) -> list[int]:
    return page.evaluate("""([sel, x, y]) => {
        const c = document.querySelector(sel);
        return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data); }""", [selector, x, y])


def test_upload_run_and_click_a_unit_for_its_fields(page, live_server, artifacts):
    _open(page, live_server)
    page.set_input_files("#lab-file", files=[{"name": "checker.png", "mimeType": "image/png", "buffer": _png()}])
    page.wait_for_selector("#lab-image-info:has-text('upload checker.png: 96×64')", timeout=10_000)
    page.select_option("#lab-preset", "conv 3→16 random, relu, max pool 2")
    assert page.locator(".lab-card").count() == 3
    _run(page)
    assert page.locator("#lab-maps canvas").count() == 4 + 48  # RGB view + 3 channels, then 16 + 16 + 16
    assert "48 feature maps from 3 layers" in page.inner_text("#lab-status")
    assert page.locator(".lab-layer h3").nth(3).inner_text().startswith("layer 2: max_pool2d — 16×32×48")
    pool = page.locator(".lab-layer[data-entry='3'] canvas").first
    pool.hover()
    page.wait_for_selector("#lab-hover:has-text('layer 2 (max_pool2d) ch 0')", timeout=5_000)
    _click_input_point(page, pool, 21, 41, (64, 96))  # the pool unit (10, 20): input rows 20-21, columns 40-41
    page.wait_for_selector("body[data-probed='true']", timeout=20_000)
    text = page.inner_text("#lab-probe-text")
    stack = [{"op": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"op": "relu"},
             {"op": "max_pool2d", "kernel_size": 2}]
    rf = httpx.post(live_server + "/api/v1/receptive-field", json={"input_size": [64, 96], "layers": stack,
                                                                    "unit": {"layer": 3, "y": 10, "x": 20}}).json()
    region = rf["region"]
    assert "unit (10, 20)" in text
    assert f"rows {region['y0']} … {region['y1']}, columns {region['x0']} … {region['x1']}" in text
    assert "Hypercolumn at input pixel (21, 41): 51 features from 4 maps" in text
    # the red box is drawn on the image, at the region's left edge
    canvas = page.locator(".lab-layer[data-entry='0'] canvas").first
    width = canvas.evaluate("c => c.width")
    r, g, b, _ = _pixel(page, ".lab-layer[data-entry='0'] canvas", round(region["x0"] / 96 * width),
                        round((region["y0"] + region["y1"]) / 2 / 64 * width * 64 / 96))
    assert r > 180 and g < 140 and b < 120, (r, g, b)
    assert page.locator("#lab-hypercolumn .main-svg").count() >= 1
    page.screenshot(path=str(artifacts / "lab.png"), full_page=True)
    assert page.problems == [] and page.outside == []


def test_camera_snapshot_paste_and_drop(page, live_server):
    _open(page, live_server)
    page.click("#lab-camera")
    _until(page, "document.getElementById('lab-video').videoWidth > 0", 15)
    page.click("#lab-snap")
    page.wait_for_selector("#lab-image-info:has-text('upload camera-')", timeout=15_000)
    assert page.locator("#lab-webcam").is_hidden()
    info = page.inner_text("#lab-image-info")
    assert "640×480" in info and "colour" in info
    b64 = base64.b64encode(_png(20, 10)).decode()
    for event, target in (("paste", "document"), ("drop", "document.getElementById('lab-drop')")):
        page.evaluate(f"""(b64) => {{
            const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], '{event}.png', {{ type: 'image/png' }}));
            const e = '{event}' === 'paste' ? new ClipboardEvent('paste', {{ clipboardData: dt, bubbles: true }})
                                             : new DragEvent('drop', {{ dataTransfer: dt, bubbles: true, cancelable: true }});
            {target}.dispatchEvent(e);
        }}""", b64)
        expected = f"upload {event}.png"
        page.wait_for_selector(f"#lab-image-info:has-text('{expected}: 20×10')", timeout=10_000)
    _run(page)
    assert page.locator(".lab-layer[data-entry='0'] h3").inner_text().startswith("input — 3×10×20")
    assert page.problems == []


def test_a_long_run_shows_progress_and_can_be_cancelled(page, live_server):
    _open(page, live_server)
    before = httpx.get(live_server + "/api/v1/health").json()["compute"]["cancelled"]
    page.select_option("#lab-side", "512")
    _use_layers(page, [{"op": "conv2d", "kernel": "random", "seed": i, "out_channels": 32, "padding": 1}
                       for i in range(12)])
    page.click("#lab-run")
    page.wait_for_selector("#lab-progress:not([hidden])", timeout=10_000)
    _until(page, "document.getElementById('lab-progress').value >= 2", 30)
    page.click("#lab-cancel")
    page.wait_for_selector("#lab-status:has-text('Cancelled after')", timeout=10_000)
    assert page.locator("#lab-progress").is_hidden() and page.locator("#lab-cancel").is_hidden()
    deadline = time.monotonic() + 30
    while httpx.get(live_server + "/api/v1/health").json()["compute"]["cancelled"] <= before:
        assert time.monotonic() < deadline, "the server did not stop the cancelled run"
        time.sleep(0.2)
    page.select_option("#lab-preset", "stride 2, no padding")
    _run(page)
    assert page.locator(".lab-layer").count() == 2
    assert page.problems == []


def test_an_upload_the_server_let_go_is_sent_again(page, live_server):
    _open(page, live_server)
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/api/v1/images") else None)
    page.set_input_files("#lab-file", files=[{"name": "a.png", "mimeType": "image/png", "buffer": _png(32, 32)}])
    page.wait_for_selector("#lab-image-info:has-text('upload a.png')")
    gone = {"status": 404, "content_type": "application/json", "body": json.dumps({
        "ok": False, "status": 404, "error": "Image abc… is not in memory; upload it again.", "errors": []})}
    state = {"first": True}

    def once(route: Any) -> None:
        if state["first"]:
            state["first"] = False
            route.fulfill(**gone)
        else:
            route.continue_()
    page.route("**/api/v1/pipeline", once)
    _run(page)
    assert len(uploads) == 2 and page.locator(".lab-layer").count() >= 2
    assert [p for p in page.problems if "404" not in p] == []


def test_a_busy_server_is_asked_again_after_its_retry_after(page, live_server):
    _open(page, live_server)
    busy = {"status": 503, "content_type": "application/json", "headers": {"Retry-After": "1"},
            "body": json.dumps({"ok": False, "status": 503, "error": "The server is busy.", "errors": []})}
    calls: list[float] = []

    def first_busy(route: Any) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            route.fulfill(**busy)
        else:
            route.continue_()
    page.route("**/api/v1/pipeline", first_busy)
    page.click("#lab-run")
    page.wait_for_selector("#lab-status:has-text('busy with other students; trying again in')")
    page.wait_for_selector("body[data-ran='true']", timeout=20_000)
    assert len(calls) == 2 and calls[1] - calls[0] >= 1.0  # it waited at least Retry-After
    assert [p for p in page.problems if "503" not in p] == []


def test_linked_zoom_the_sweep_and_batch_norm_statistics(page, live_server, artifacts):
    _open(page, live_server)
    page.select_option("#lab-side", "64")
    page.select_option("#lab-preset", "batch norm (train) then relu")
    page.check("#lab-exact")  # float32 maps: hover shows the value itself
    _run(page)
    page.locator(".lab-layer[data-entry='1'] canvas").first.hover()
    page.wait_for_selector("#lab-hover:has-text('layer 0 (conv2d) ch 0 unit (')")
    assert " = " in page.inner_text("#lab-hover") and "≈" not in page.inner_text("#lab-hover")
    assert "train mode: each channel normalised by this image's own mean" in page.inner_text(".lab-stats")
    view = page.get_attribute("#lab-maps", "data-view")
    page.locator(".lab-layer[data-entry='2'] canvas").first.hover()
    page.mouse.wheel(0, -300)
    _until(page, f"document.getElementById('lab-maps').dataset.view !== '{view}'")
    zoomed = page.get_attribute("#lab-maps", "data-view")
    assert float(zoomed.split(",")[2]) < 64
    page.click("#lab-reset-view")
    _until(page, "document.getElementById('lab-maps').dataset.view === '0.00,0.00,64.00'")
    assert [o.inner_text() for o in page.locator("#lab-sweep-layer option").all()] == ["layer 0: conv2d"]
    page.select_option("#lab-sweep-unit", "cell")
    page.click("#player [data-act=fwd]")
    assert page.get_attribute("#player", "data-cell") == "0,1"
    assert "output (0, 1) reads input rows -1, 0, 1 × columns 0, 1, 2" in page.inner_text("#lab-sweep-text")
    page.click("#player [data-act=play]")
    _until(page, "Number(document.getElementById('player').dataset.frame) > 2", 10)
    page.locator(".lab-sweep").screenshot(path=str(artifacts / "lab-sweep.png"))
    _use_layers(page, [{"op": "max_pool2d", "kernel_size": 4000}])
    page.click("#lab-run")
    page.wait_for_selector("#lab-error:has-text('Layer 0 (max_pool2d)')", timeout=10_000)
    assert [p for p in page.problems if "422" not in p] == []
