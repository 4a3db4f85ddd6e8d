"""Plotly.js (1.5 MB) is fetched only when a chart is shown, and never before a page's first drawing: the home
page draws its three heatmaps on canvases and fetches Plotly afterwards; /receptive-field draws the effective field
on a canvas and fetches Plotly when it is measured; /docs has no chart; the lab fetches it when a unit's
hypercolumn is first charted."""
from __future__ import annotations

from typing import Any

import pytest

from .helpers import open_view
from .test_receptive_drawing import coloured_share

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


def test_receptive_field_draws_the_effective_field_before_plotly_arrives(watched, live_server):
    """While Plotly.js is held back, the effective field is already drawn on a canvas with its exact values on
    hover; once it arrives, the same field becomes a Plotly chart."""
    held: list[Any] = []
    watched.route("**/vendor/plotly*", lambda route: held.append(route))
    open_view(watched, f"{live_server}/receptive-field?effective=0")
    watched.check("input[name=effective]")
    watched.wait_for_selector("#controls:not([aria-busy])")
    watched.wait_for_selector("#plot-effective canvas")
    assert coloured_share(watched.locator("#plot-effective canvas").screenshot()) > 0.05
    box = watched.locator("#plot-effective canvas").bounding_box()
    watched.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    assert watched.inner_text("#plot-effective .heat-tip").startswith("row ")
    for _ in range(50):
        if held:
            break
        watched.wait_for_timeout(100)
    assert len(held) == 1, "Plotly.js is asked for once the field is drawn"
    held[0].continue_()
    watched.wait_for_selector("#plot-effective .main-svg", timeout=30_000)
    assert watched.locator("#plot-effective .heat-tip").count() == 0
    assert len(plotly_requests(watched)) == 1
    assert watched.problems == []


def test_api_reference_never_fetches_plotly(watched, live_server):
    watched.goto(f"{live_server}/docs")
    watched.wait_for_load_state("networkidle")
    assert plotly_requests(watched) == []
    assert watched.evaluate("typeof window.Plotly") == "undefined"
    assert watched.problems == []


def test_home_page_draws_its_heatmaps_before_plotly_is_fetched(watched, live_server):
    """The three heatmaps are drawn (with their numbers) on canvases; Plotly.js is asked for only afterwards."""
    open_view(watched, live_server + "/")
    for plot in ("#plot-input", "#plot-kernel", "#plot-output"):
        assert watched.locator(f"{plot} canvas, {plot} .main-svg").count() >= 1
    fetched_before = watched.evaluate("""() => {
      const ready = performance.getEntriesByName('convscope:ready')[0].startTime;
      return performance.getEntriesByType('resource').filter((e) => e.name.includes('/vendor/plotly')
        && e.startTime <= ready).length; }""")
    assert fetched_before == 0
    gaps = watched.evaluate("""() => new Promise((resolve) => {
      const ids = ['plot-input', 'plot-kernel', 'plot-output'];
      let gaps = 0;
      const look = () => {
        if (ids.some((id) => !document.querySelector(`#${id} canvas, #${id} .main-svg`))) gaps += 1;
        if (ids.every((id) => document.querySelector(`#${id} .main-svg`))) resolve(gaps);
        else requestAnimationFrame(look);
      };
      look();
    })""")
    assert gaps == 0, "the canvases give way to the Plotly charts with no frame in between"
    assert watched.problems == []
