"""Every page names its whole module graph up front, so the browser fetches it at once: as one bundle (bundle.py), or,
for a graph that does not bundle, as link rel=modulepreload worked out on the server from the modules' import
statements. What the page then loads is exactly what was preloaded plus the entry, and nothing preloaded goes
unused."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from .helpers import open_view

pytestmark = pytest.mark.browser
PAGES = ["/", "/conv", "/transpose", "/pool", "/matrices", "/receptive-field", "/backprop", "/fully-convolutional",
         "/equivariance", "/lab", "/docs"]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.strip("/") or "home") for p in PAGES])
def test_the_page_preloads_exactly_the_modules_it_loads(page, live_server, path):
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(urlparse(r.url).path) if r.url.endswith(".js") or ".js?" in r.url
            else None)
    if path == "/docs":
        page.goto(live_server + path)
        page.wait_for_selector("#docs-count:has-text('endpoints')")
    else:
        open_view(page, live_server + path)
    preloaded = page.eval_on_selector_all('link[rel="modulepreload"]', "els => els.map((e) => new URL(e.href).pathname)")
    entries = page.eval_on_selector_all('script[type="module"]', "els => els.map((e) => new URL(e.src).pathname)")
    modules = {u for u in loaded if u.startswith("/static/")}
    assert modules == set(preloaded) | set(entries), "preload what the page imports, and only that"
    assert page.problems == []
