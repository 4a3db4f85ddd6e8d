"""Small HTTP manners and start-up: HEAD wherever GET works, an HTML 404 for browsers, bad settings refused."""
from __future__ import annotations

import subprocess
import sys

import pytest

from ..live import ROOT, server_env

from convscope.app import create_app
from convscope.settings import Settings


def _get_paths() -> list[str]:
    """Every GET route of the app without a path parameter, and a static asset."""
    def walk(routes: list, prefix: str) -> list[tuple[str, object]]:
        found = []
        for r in routes:
            if hasattr(r, "original_router"):  # an included router
                found += walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif hasattr(r, "path"):
                found.append((prefix + r.path, getattr(r, "methods", None) or ()))
        return found

    paths = {p for p, methods in walk(create_app(Settings(device="cpu")).routes, "")
             if "GET" in methods and "{" not in p}
    return sorted(paths) + ["/static/favicon.svg"]


PAGES = _get_paths()


@pytest.mark.parametrize("path", PAGES)
def test_head_answers_wherever_get_does(client, path: str) -> None:
    assert {"/", "/conv", "/lab", "/equivariance", "/docs", "/api/v1/models"} <= set(PAGES)
    get, head = client.get(path), client.head(path)
    assert get.status_code == head.status_code == 200, path
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


def test_a_browser_gets_an_html_404_with_links_and_an_api_client_the_envelope(client) -> None:
    page = client.get("/no-such-view", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no page at" in page.text and 'href="/conv"' in page.text and 'href="/lab"' in page.text
    for path, accept in [("/api/v1/no-such", "text/html"), ("/no-such-view", "application/json"), ("/no-such", "*/*")]:
        reply = client.get(path, headers={"Accept": accept})
        assert reply.status_code == 404 and reply.json()["ok"] is False, path


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("CONVSCOPE_MAX_CONCURRENCY", "0", "CONVSCOPE_MAX_CONCURRENCY=0: must be an integer from 1 to 256."),
    ("CONVSCOPE_MAX_CONCURRENCY", "two", "CONVSCOPE_MAX_CONCURRENCY='two': must be an integer from 1 to 256."),
    ("CONVSCOPE_MAX_QUEUE", "-1", "CONVSCOPE_MAX_QUEUE=-1: must be an integer from 0 to 1,000,000."),
    ("CONVSCOPE_QUEUE_TIMEOUT_S", "soon", "CONVSCOPE_QUEUE_TIMEOUT_S='soon': must be a number from 0.001 to 3,600."),
    ("CONVSCOPE_IMAGE_MAX_SIDE", "4", "CONVSCOPE_IMAGE_MAX_SIDE=4: must be an integer from 8 to 16,384."),
    ("CONVSCOPE_MAX_BODY_BYTES", "1.5", "CONVSCOPE_MAX_BODY_BYTES='1.5': must be an integer of at least 1."),
    ("CONVSCOPE_HTTP", "h2", "CONVSCOPE_HTTP='h2': must be one of auto, h11."),
])
def test_a_bad_setting_stops_start_up_with_one_line(variable: str, value: str, words: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "convscope", "--port", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=server_env(**{variable: value}))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"convscope: {words}"] and "Traceback" not in proc.stderr
