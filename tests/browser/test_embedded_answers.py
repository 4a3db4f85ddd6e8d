"""The GET answers a page's first drawing waits on come written into the page (server/embed.py): each <meta> is
the API's own answer to that GET, the page draws without asking for them, and a later call asks the server again."""
from __future__ import annotations

import html as html_lib
import json
import re
from urllib.parse import urlparse

import httpx
import pytest

from .helpers import open_view

pytestmark = pytest.mark.browser
BLOCK = re.compile(r'<meta name="api-get" data-path="([^"]+)" content="([^"]*)">')
EMBEDS = {
    "/receptive-field": ["/presets", "/layers", "/models"],
    "/lab": ["/kernels", "/layers", "/pipeline/presets", "/models", "/samples", "/samples/camera"],
    "/lab?sample=astronaut": ["/kernels", "/layers", "/pipeline/presets", "/models", "/samples", "/samples/astronaut"],
}


@pytest.mark.parametrize("path", list(EMBEDS))
def test_each_block_is_the_apis_answer_to_that_get(live_server, path):
    html = httpx.get(live_server + path, timeout=30).text
    blocks = BLOCK.findall(html)
    assert [p for p, _ in blocks] == EMBEDS[path]
    for api_path, text in blocks:
        assert "<" not in text and '"' not in text  # escaped: the attribute cannot end early
        assert json.loads(html_lib.unescape(text)) == httpx.get(f"{live_server}/api/v1{api_path}", timeout=30).json(), api_path


def test_an_unknown_sample_in_the_address_is_left_to_the_page(live_server):
    html = httpx.get(live_server + "/lab?sample=nope", timeout=30).text
    assert "/samples/" not in "".join(p for p, _ in BLOCK.findall(html))


def test_pages_without_blocks_have_none(live_server):
    for path in ["/", "/conv", "/pool"]:
        assert BLOCK.findall(httpx.get(live_server + path, timeout=30).text) == []


@pytest.mark.parametrize("path", ["/receptive-field", "/lab"])
def test_the_page_draws_without_fetching_what_it_was_given(page, live_server, path):
    asked: list[str] = []
    page.on("request", lambda r: asked.append(urlparse(r.url).path) if r.method == "GET" else None)
    open_view(page, live_server + path)
    given = {f"/api/v1{p}" for p in EMBEDS[path]}
    assert not given & set(asked), "an embedded answer was fetched again before the first drawing"
    # each block is taken once: the page holds none after it has drawn
    assert page.eval_on_selector_all("meta[name=api-get]", "els => els.length") == 0
    # and a later get() of the same path asks the server
    with page.expect_request(lambda r: urlparse(r.url).path == "/api/v1/layers"):
        page.evaluate("import('/static/js/api.js').then((api) => api.get('/layers'))")
    assert page.problems == []
