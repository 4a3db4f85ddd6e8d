"""/docs: the server renders the whole reference; its filter narrows the endpoints and their contents entries,
keeps the text in the link, and never fetches Plotly.js."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def shown(page) -> list[str]:
    return page.eval_on_selector_all("article.endpoint:not([hidden]) h2 code", "els => els.map((e) => e.textContent)")


def test_filter_keeps_only_the_endpoints_matching_every_word(page, live_server):
    page.goto(f"{live_server}/docs")
    page.wait_for_selector("#docs-count:has-text('endpoints')")
    everything = shown(page)
    assert len(everything) > 20
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "docs-filter"
    page.keyboard.type("post pipeline")
    kept = shown(page)
    assert kept and len(kept) < len(everything)
    matches = page.eval_on_selector_all("article.endpoint", """els => els.map((e) => [e.hidden,
      e.textContent.toLowerCase().includes('post') && e.textContent.toLowerCase().includes('pipeline')])""")
    assert all(hidden != match for hidden, match in matches)  # kept exactly where both words are in the text
    assert "POST /api/v1/pipeline" in kept
    assert page.inner_text("#docs-count") == f"{len(kept)} of {len(everything)} endpoints"
    toc = page.eval_on_selector_all(".toc li:not([hidden]) code", "els => els.map((e) => e.textContent)")
    assert toc == kept
    assert "q=post+pipeline" in page.url or "q=post%20pipeline" in page.url
    page.keyboard.press("Escape")
    assert shown(page) == everything
    assert "q=" not in page.url
    assert page.problems == []


def test_a_link_with_a_filter_opens_filtered(page, live_server):
    page.goto(f"{live_server}/docs?q=weights")
    page.wait_for_selector("#docs-count:has-text('of')")
    kept = shown(page)
    assert kept and all("weights" in page.inner_text(f"article[id='{k.split()[0]}-{k.split()[1]}']").lower()
                        for k in kept)
    assert page.input_value("#docs-filter") == "weights"
    page.fill("#docs-filter", "no-such-endpoint-anywhere")
    assert shown(page) == []
    assert page.inner_text("#docs-count") .startswith("0 of ")
    assert page.problems == []
