"""A browser that follows a wrong link gets a page in the site's layout, with its way back to every view."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

VIEWS = ("/conv", "/transpose", "/pool", "/matrices", "/receptive-field", "/backprop", "/fully-convolutional",
         "/equivariance", "/lab")


def test_a_missing_page_is_an_html_page_with_links_to_the_views(page, live_server, artifacts):
    reply = page.goto(live_server + "/convolution?stride=2")
    assert reply.status == 404 and reply.headers["content-type"].startswith("text/html")
    assert "There is no page at" in page.inner_text("main")
    assert page.locator("nav a[href='/conv']").count() == 1  # the site's own nav bar
    for href in VIEWS:
        assert page.locator(f"main a[href='{href}']").count() >= 1, href
    page.screenshot(path=str(artifacts / "not-found.png"), full_page=True)
    page.click("main a[href='/conv']")
    page.wait_for_url(live_server + "/conv*")
    assert page.title() and "There is no page" not in page.inner_text("body")
    assert [p for p in page.problems if "/convolution" not in p] == []  # the 404 itself is the only failure
    assert page.outside == []


def test_an_api_path_stays_json_in_the_browser(page, live_server):
    reply = page.goto(live_server + "/api/v1/no-such-thing")
    assert reply.status == 404 and reply.headers["content-type"].startswith("application/json")
    assert reply.json()["ok"] is False
