"""The image lab in real headless Chromium: upload a PNG through the file input, run, see the feature maps."""
from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

CHROMIUM = os.environ.get("CONVSCOPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CONVSCOPE_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium is required (CONVSCOPE_REQUIRE_BROWSER is set) but {CHROMIUM} is missing")
        pytest.skip("Chromium is not installed; scripts/test installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _png(width: int = 96, height: int = 64) -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    r = ((x // 8 + y // 8) % 2) * 255
    g = (x * 255 // width)
    b = (y * 255 // height)
    buf = io.BytesIO()
    Image.fromarray(np.stack([r, g, b], -1).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _receptive(route, asked: list[dict]) -> None:
    from server.core.receptive import receptive_field
    from server.schemas_arith import ReceptiveFieldRequest

    body = json.loads(route.request.post_data or "{}")
    asked.append(body)
    b = ReceptiveFieldRequest.model_validate(body)
    result = receptive_field(b.input_size, b.layers, b.unit, b.input_shape, b.effective)
    route.fulfill(status=200, content_type="application/json", body=json.dumps({"ok": True, **result}))


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_upload_run_and_see_every_feature_map(chromium, live_server, artifacts):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    problems = _watch(page)
    page.goto(live_server + "/lab")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    page.set_input_files("#lab-file", files=[{"name": "checker.png", "mimeType": "image/png", "buffer": _png()}])
    page.wait_for_selector("#lab-image-info:has-text('upload checker.png: 96×64')", timeout=10_000)
    page.select_option("#lab-preset", "conv 3→16 random, relu, max pool 2")
    page.click("#lab-run")
    page.wait_for_selector("body[data-ran='true']", timeout=20_000)
    # input: RGB view + 3 channels; layers: 16 + 16 + 16 maps
    assert page.locator("#lab-maps canvas").count() == 4 + 48
    assert "48 feature maps from 3 layers" in page.inner_text("#lab-status")
    assert page.locator(".lab-layer h3").nth(3).inner_text().startswith("layer 2: max_pool2d — 16×32×48")
    page.locator("#lab-maps .lab-layer").nth(1).locator("canvas").first.hover()
    page.wait_for_selector("#lab-hover:has-text('layer 0: conv2d ch 0')", timeout=5_000)
    # The receptive-field box: the request goes to the real core function (in this process, whether or
    # not the server has the route wired), and the page draws its region on the input.
    asked: list[dict] = []
    page.route("**/api/v1/receptive-field", lambda route: _receptive(route, asked))
    pool = page.locator("#lab-maps .lab-layer").nth(3).locator("canvas").first
    pool.click(position={"x": 1, "y": 1})
    page.wait_for_selector("#lab-hover:has-text('Receptive field of (0, 0)')", timeout=10_000)
    assert asked and asked[0]["unit"] == {"layer": 3, "y": 0, "x": 0}
    assert "rows -1…2, cols -1…2" in page.inner_text("#lab-hover")
    page.screenshot(path=str(artifacts / "lab.png"), full_page=True)
    assert problems == []
    page.close()


def test_sample_edges_preset_and_an_illegal_pipeline(chromium, live_server, artifacts):
    page = chromium.new_page()
    problems = _watch(page)
    page.goto(live_server + "/lab")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    assert "sample" in page.inner_text("#lab-image-info")
    page.click("#lab-run")
    page.wait_for_selector("body[data-ran='true']", timeout=20_000)
    assert page.locator(".lab-layer").count() == 4
    page.screenshot(path=str(artifacts / "lab-sample.png"), full_page=True)
    page.fill("#lab-layers", '[{"op": "max_pool2d", "kernel_size": 4000}]')
    page.click("#lab-run")
    page.wait_for_selector("#lab-error:has-text('Layer 0 (max_pool2d)')", timeout=10_000)
    assert [p for p in problems if "422" not in p] == []  # the refused run is the expected 422
    page.close()
