"""/conv in real Chromium: what lights up is exactly the API's trace, controls and the URL agree,
presenter keys drive the player, exports hold what the page shows."""
from __future__ import annotations

import re

import httpx
import numpy as np
import pytest

from .helpers import download_json, hover_cell, lit, open_view

pytestmark = pytest.mark.browser
IN = "#input-grids .grid"
OUT = "#output-grids .grid"


def _cell(trace, o, y, x):
    return next(c for c in trace["cells"] if c["out"][1:] == [o, y, x])


def test_loads_without_errors_and_draws(page, live_server, artifacts):
    open_view(page, live_server + "/conv")
    assert page.locator(f"{IN} canvas").count() == 2 and page.locator(f"{OUT} canvas").count() == 2
    assert page.get_attribute("#player", "data-frames") == "49"  # 7×7, padding 1: the server's trace
    assert "cross-correlation" in page.inner_text("#t-kernel")
    page.screenshot(path=str(artifacts / "conv.png"), full_page=True)
    assert page.problems == [] and page.outside == []


@pytest.mark.parametrize("query", [
    pytest.param("h=5&w=6&padding=1&stride=2&seed=3", id="strided"),
    pytest.param("h=6&w=6&padding=2&dilation=2&seed=4", id="dilated"),
    pytest.param("h=5&w=5&padding=2&padding_mode=reflect&seed=5", id="reflect"),
])
def test_hovered_output_lights_exactly_the_trace_reads(page, live_server, query):
    open_view(page, f"{live_server}/conv?{query}")
    data = download_json(page)
    trace = data["trace"]
    # The page's request, sent again by hand, gives the same trace: the page shows the API's numbers.
    again = httpx.post(f"{live_server}/api/v1/ops/conv2d", json=data["request"], timeout=30).json()["trace"]
    assert again == trace
    _, _, h_out, w_out = trace["output_shape"]
    for y, x in {(0, 0), (h_out - 1, w_out - 1), (h_out // 2, 1)}:
        hover_cell(page, OUT, y, x)
        cell = _cell(trace, 0, y, x)
        assert lit(page, IN) == {(r[1], r[2]) for r in cell["reads"]}
        d = trace["dilation"]
        assert lit(page, "#kernel-grids .grid") == {(t[2] * d[0], t[3] * d[1]) for t in cell["taps"]}
        assert page.inner_text("#sum").endswith(f"= {cell['value']:g}")  # the server's value, written out
    assert page.problems == []


def test_hovered_input_lights_every_output_it_feeds(page, live_server):
    open_view(page, f"{live_server}/conv?h=6&w=6&padding=0&stride=2&kh=3&kw=3&seed=2")
    trace = download_json(page)["trace"]
    for y, x in [(2, 2), (1, 4), (0, 0)]:
        hover_cell(page, IN, y, x)
        fed = {tuple(c["out"][2:]) for c in trace["cells"] if [0, y, x] in c["reads"]}
        assert lit(page, OUT, "fed") == fed
    # (5, 5) sits past the last stride-2 window (rows 2..4): nothing reads it, and the page says so
    hover_cell(page, IN, 5, 5)
    assert lit(page, OUT, "fed") == set()
    assert "never read" in page.inner_text("#sum")


def test_reflect_padding_says_where_the_copy_comes_from(page, live_server):
    open_view(page, f"{live_server}/conv?h=4&w=4&padding=1&padding_mode=reflect&seed=1")
    hover_cell(page, IN, -1, -1)
    assert "copied from (1, 1) (reflect)" in page.inner_text(".tip")
    hover_cell(page, IN, 1, 1)  # reflect copies (1, 1) into the ring; the edge itself is not repeated
    assert "through padding copies" in page.inner_text("#sum")


def test_keyboard_cursor_on_the_output_grid(page, live_server):
    open_view(page, f"{live_server}/conv?h=5&w=5&padding=0")
    trace = download_json(page)["trace"]
    page.focus(OUT)
    page.keyboard.press("End")
    assert lit(page, IN) == {(r[1], r[2]) for r in _cell(trace, 0, 2, 2)["reads"]}
    frame = page.get_attribute("#player", "data-frame")
    page.keyboard.press("ArrowLeft")  # moves the grid's cursor, not the animation
    assert page.get_attribute("#player", "data-frame") == frame
    assert lit(page, IN) == {(r[1], r[2]) for r in _cell(trace, 0, 2, 1)["reads"]}
    page.keyboard.press("Enter")  # jumps the animation there
    assert page.get_attribute("#player", "data-frame") == "7"


def test_changing_a_control_changes_the_drawing(page, live_server):
    open_view(page, f"{live_server}/conv")
    before = page.locator(OUT).screenshot()
    page.fill("input[name=stride]", "2")
    page.wait_for_selector("#t-output:has-text('1×1×4×4')")
    assert page.locator(OUT).screenshot() != before
    assert page.get_attribute(OUT, "data-rows") == "4"
    assert "stride=2" in page.url


def test_illegal_settings_show_the_api_sentence_beside_the_control(page, live_server):
    open_view(page, f"{live_server}/conv?h=4&w=4&padding=0&dilation=3")
    note = page.locator("#error-kh")  # the API's loc is "weight": the kernel's own control
    assert "spans d(k-1)+1" in note.inner_text()
    assert page.get_attribute("input[name=kh]", "aria-invalid") == "true"
    page.fill("input[name=c]", "3")
    page.fill("input[name=groups]", "2")
    page.dispatch_event("input[name=groups]", "input")
    page.wait_for_selector("#error-groups")
    assert "must divide" in page.inner_text("#error-groups")
    assert page.input_value("input[name=groups]") == "2"  # never clamped


def test_url_round_trips(page, live_server):
    query = "h=9&w=5&c=1&o=2&kh=2&kw=3&stride=2&padding=1&dilation=1&groups=1&padding_mode=replicate&flip=1&frame=3&speed=8"
    open_view(page, f"{live_server}/conv?{query}")
    for name, value in [("h", "9"), ("w", "5"), ("o", "2"), ("kh", "2"), ("stride", "2"), ("padding_mode", "replicate"),
                        ("speed", "8"), ("frame", "3")]:
        assert page.input_value(f"[name={name}]") == value
    assert page.is_checked("input[name=flip]")
    assert page.get_attribute("#player", "data-frame") == "3"
    page.fill("input[name=padding]", "0")
    page.dispatch_event("input[name=padding]", "input")
    page.wait_for_url(re.compile(r"padding=0"))
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert page.input_value("input[name=padding]") == "0"
    assert page.input_value("input[name=h]") == "9" and page.is_checked("input[name=flip]")


def test_presenter_keys(page, live_server, artifacts):
    open_view(page, f"{live_server}/conv?h=6&w=6")
    page.keyboard.press("p")
    assert "presenter" in page.get_attribute("body", "class")
    page.keyboard.press("Space")
    assert page.get_attribute("#player", "data-playing") == "true"
    page.keyboard.press("Space")
    assert page.get_attribute("#player", "data-playing") == "false"
    start = int(page.get_attribute("#player", "data-frame"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert int(page.get_attribute("#player", "data-frame")) == start + 2
    page.keyboard.press("ArrowLeft")
    assert int(page.get_attribute("#player", "data-frame")) == start + 1
    speed = float(page.input_value("select[name=speed]"))
    page.keyboard.press("+")
    assert float(page.input_value("select[name=speed]")) > speed
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert float(page.input_value("select[name=speed]")) < speed
    page.screenshot(path=str(artifacts / "conv-presenter.png"))
    page.keyboard.press("p")
    assert "presenter" not in (page.get_attribute("body", "class") or "")


def test_playing_reaches_the_end(page, live_server):
    open_view(page, f"{live_server}/conv?h=3&w=3&padding=1&speed=60")
    page.click("#player [data-act=play]")
    page.wait_for_selector("#player[data-frame='8'][data-playing='false']")


def test_exports(page, live_server, artifacts):
    open_view(page, f"{live_server}/conv?h=5&w=5&padding=2&padding_mode=circular&bias=1&c=2&o=2")
    with page.expect_download() as info:
        page.click("#export-png")
    with open(info.value.path(), "rb") as f:
        png = f.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    (artifacts / "conv-export.png").write_bytes(png)
    data = download_json(page)
    # "copy as PyTorch" writes a call that, run in torch, gives the page's output
    code = page.text_content("#pytorch-code")
    assert "F.conv2d(" in code and 'mode="circular"' in code
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - the page's own code, run in the test
    expected = np.array([c["value"] for c in data["trace"]["cells"]]).reshape(data["trace"]["output_shape"])
    np.testing.assert_allclose(scope["y"].numpy(), expected, rtol=1e-12)
    page.click("#export-pytorch")
    page.wait_for_selector("#export-status:has-text('PyTorch')")


def test_groups_colour_and_weight_count(page, live_server):
    open_view(page, f"{live_server}/conv?c=4&o=4&groups=2&h=5&w=5")
    assert page.locator("#input-grids figure.grouped").count() == 4
    assert "2× fewer" in page.inner_text("#weights")
    assert "72 (4×2×3×3)" in page.inner_text("#weights")


def test_one_dimensional_mode(page, live_server):
    open_view(page, f"{live_server}/conv?dims=1&w=12&kw=3&padding=1&stride=2")
    assert page.get_attribute(OUT, "data-rows") == "1"
    trace = download_json(page)["trace"]
    assert trace["op"] == "conv1d"
    hover_cell(page, OUT, 0, 2)
    assert lit(page, IN) == {(0, r[1]) for r in trace["cells"][2]["reads"]}


def test_a_64_by_64_input(page, live_server):
    open_view(page, f"{live_server}/conv?h=64&w=64&padding=1")
    assert page.get_attribute("#player", "data-frames") == "4096"
    page.keyboard.press("End")  # not a grid: nothing happens; the player keeps its frame
    hover_cell(page, OUT, 63, 63)
    assert len(lit(page, IN)) == 9
    assert page.problems == []
