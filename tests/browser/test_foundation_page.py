"""The first page in real headless Chromium: Plotly from the app, a conv through the API, three heatmaps."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_home_page_draws_a_conv_through_the_api(page, live_server, artifacts):
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    for plot in ("#plot-input", "#plot-kernel", "#plot-output"):
        page.wait_for_selector(f"{plot} .main-svg", timeout=10_000)
    assert "output 6×6" in page.inner_text("#output-caption")  # padding 1, stride 1: same size

    page.fill("input[name=stride]", "2")
    page.dispatch_event("input[name=stride]", "input")
    page.wait_for_selector("#output-caption:has-text('3×3')", timeout=10_000)  # the CSP forbids eval'd waits
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    assert page.problems == []
    assert page.outside == []  # nothing fetched from outside the app: no CDN


def test_home_page_introduces_every_view(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready='true']")
    for href in ("/conv", "/transpose", "/pool", "/matrices", "/receptive-field", "/backprop", "/fully-convolutional",
                 "/equivariance", "/lab"):
        assert page.locator(f".view-cards a[href='{href}']").count() == 1
        assert page.locator(f"nav a[href='{href}']").count() == 1


def test_illegal_setting_shows_the_api_sentence(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    page.fill("input[name=dilation]", "3")
    page.fill("input[name=padding]", "0")
    page.dispatch_event("input[name=padding]", "input")
    page.wait_for_selector("#demo-error:not([hidden])", timeout=10_000)
    assert "spans d(k-1)+1" in page.inner_text("#demo-error")
