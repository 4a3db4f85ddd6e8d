"""The pages run only script files of the app's own, so the CSP (script-src 'self', no 'unsafe-inline')
blocks nothing they need and anything injected: no inline <script> body, no on*= handler, no javascript: URL."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ROOT, html_routes
from .html_scan import inline_script

TEMPLATES = sorted((ROOT / "templates").glob("**/*.html"))
#: Pages a visitor reaches from the navigation; the route walk below must find at least these.
KNOWN_PAGES = {"/", "/conv", "/transpose", "/pool", "/matrices", "/receptive-field", "/lab", "/docs"}


@pytest.mark.parametrize(("snippet", "what"), [
    pytest.param("<script>alert(1)</script>", "inline <script> body", id="script-body"),
    pytest.param("<script type='module'>\nimport './x.js'\n</script>", "inline <script> body", id="module-body"),
    pytest.param("<button onclick=\"go()\">go</button>", "inline event handler", id="onclick"),
    pytest.param("<body ONLOAD='x()'>", "inline event handler", id="onload-upper-case"),
    pytest.param("<a href=\"javascript:alert(1)\">x</a>", "javascript: URL", id="javascript-href"),
    pytest.param("<a href=\" JaVa\tScRiPt:alert(1)\">x</a>", "javascript: URL", id="javascript-obfuscated"),
    pytest.param("<form action='javascript:x()'></form>", "javascript: URL", id="javascript-action"),
    pytest.param("<a href='{{ u }}' onclick='{{ f }}'>x</a>", "inline event handler", id="handler-in-template"),
])
def test_the_scanner_finds_inline_script(snippet: str, what: str) -> None:
    findings = inline_script(snippet, template=True)
    assert findings and what in findings[0], findings


@pytest.mark.parametrize("snippet", [
    pytest.param("<script type=\"module\" src=\"/static/js/a.js\"></script>", id="module-file"),
    pytest.param("<script src=\"{{ plotly_url() }}\" defer></script>", id="template-src"),
    pytest.param("<p>Set onclick= in JavaScript, not javascript: URLs.</p>", id="words-in-text"),
    pytest.param("<a href=\"/conv?op=conv2d\" data-online=\"1\">conv</a>", id="plain-link"),
])
def test_the_scanner_passes_script_files(snippet: str) -> None:
    assert inline_script(snippet, template=True) == []


def test_there_are_templates_to_scan() -> None:
    assert len(TEMPLATES) >= 8, TEMPLATES


@pytest.mark.parametrize("template", [pytest.param(t, id=t.name) for t in TEMPLATES])
def test_template_has_no_inline_script(template: Path) -> None:
    assert inline_script(template.read_text(encoding="utf-8"), template=True) == []


def test_every_page_is_walked() -> None:
    assert KNOWN_PAGES <= set(html_routes()), html_routes()


def test_served_pages_have_no_inline_script(client) -> None:
    for path in html_routes():
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "<script" in response.text, f"{path} loads no script at all: is it the page?"
        assert inline_script(response.text) == [], path
