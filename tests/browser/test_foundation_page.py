"""The first page in real headless Chromium: Plotly from the app, a conv through the API, three heatmaps."""
from __future__ import annotations

import os
import shutil

import pytest

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


def test_home_page_draws_a_conv_through_the_api(chromium, live_server, artifacts):
    page = chromium.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)

    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    for plot in ("#plot-input", "#plot-kernel", "#plot-output"):
        page.wait_for_selector(f"{plot} .main-svg", timeout=10_000)
    assert "output 6×6" in page.inner_text("#output-caption")  # padding 1, stride 1: same size

    page.fill("input[name=stride]", "2")
    page.dispatch_event("input[name=stride]", "input")
    page.wait_for_selector("#output-caption:has-text('3×3')", timeout=10_000)  # the CSP forbids eval'd waits
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    assert problems == []
    assert outside == []  # nothing fetched from outside the app: no CDN
    page.close()


def test_illegal_setting_shows_the_api_sentence(chromium, live_server):
    page = chromium.new_page()
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    page.fill("input[name=dilation]", "3")
    page.fill("input[name=padding]", "0")
    page.dispatch_event("input[name=padding]", "input")
    page.wait_for_selector("#demo-error:not([hidden])", timeout=10_000)
    assert "spans d(k-1)+1" in page.inner_text("#demo-error")
    page.close()
