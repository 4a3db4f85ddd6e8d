"""Plotly.js (1.5 MB) is fetched only when a chart is shown: no page requests it for its first drawing unless
that drawing is a Plotly chart (the home page's three heatmaps); /receptive-field fetches it when the effective
field is measured, and the lab when a unit's hypercolumn is first charted."""
from __future__ import annotations

from typing import Any

import pytest

from .helpers import open_view

pytestmark = pytest.mark.browser
NO_CHART = ["/conv", "/transpose", "/pool", "/matrices", "/receptive-field?effective=0", "/backprop",
            "/fully-convolutional", "/equivariance", "/lab"]


def plotly_requests(page: Any) -> list[str]:
    return [u for u in page.requested if "/vendor/plotly" in u]


@pytest.fixture
def watched(page: Any) -> Any:
    page.requested = []
    page.on("request", lambda r: page.requested.append(r.url))
    return page


@pytest.mark.parametrize("path", [pytest.param(p, id=p.strip("/").split("?")[0]) for p in NO_CHART])
def test_a_page_without_a_chart_never_fetches_plotly(watched, live_server, path):
    open_view(watched, live_server + path)
    watched.wait_for_load_state("networkidle")
    assert plotly_requests(watched) == []
    assert watched.evaluate("typeof window.Plotly") == "undefined"
    assert watched.problems == []


def test_receptive_field_fetches_plotly_when_the_effective_field_is_shown(watched, live_server):
    open_view(watched, f"{live_server}/receptive-field?effective=0")
    watched.wait_for_load_state("networkidle")
    assert plotly_requests(watched) == []
    watched.check("input[name=effective]")
    watched.wait_for_selector("#plot-effective .main-svg", timeout=30_000)
    assert len(plotly_requests(watched)) == 1
    assert watched.problems == []
