"""Real headless Chromium for the page tests: one browser per test module, a fresh page per test that records
console errors, page errors, failed responses and any request that leaves the app (no CDN, ever)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("CONVSCOPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


# Module scope, not session: a test module that starts its own sync_playwright (test_lab.py does) cannot
# run while another instance is open in the same process.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CONVSCOPE_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium is required (CONVSCOPE_REQUIRE_BROWSER is set) but {CHROMIUM} is missing")
        pytest.skip("Chromium is not installed; scripts/test installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A page in its own context. page.problems lists console errors, page errors and failed responses;
    page.outside lists requests to anywhere but the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.problems = []
    pg.outside = []
    pg.on("console", lambda m: pg.problems.append(f"console: {m.text} {m.location}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    pg.on("response", lambda r: pg.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.on("request", lambda r: pg.outside.append(r.url)
          if not r.url.startswith((live_server, "data:", "blob:")) else None)
    yield pg
    context.close()


@pytest.fixture(scope="session")
def api_paths(live_server: str) -> set[str]:
    """The endpoints this server has (teammates add some concurrently; tests that need one skip without it)."""
    return set(httpx.get(live_server + "/openapi.json", timeout=10).json()["paths"])
