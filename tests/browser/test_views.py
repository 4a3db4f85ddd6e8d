"""/transpose, /pool, /matrices, /receptive-field in real Chromium: each loads cleanly, and what lights up is
the server's trace or the server's arithmetic."""
from __future__ import annotations

import httpx
import pytest

from .helpers import download_json, hover_cell, lit, open_view

pytestmark = pytest.mark.browser
VIEWS = ["/conv", "/transpose", "/pool", "/matrices", "/receptive-field"]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.strip("/")) for p in VIEWS])
def test_every_view_loads_cleanly(page, live_server, api_paths, artifacts, path):
    if path == "/receptive-field" and "/api/v1/receptive-field" not in api_paths:
        pytest.skip("POST /api/v1/receptive-field is not on this server yet")
    open_view(page, live_server + path)
    assert page.get_attribute("body", "data-error") == ""
    assert page.locator("#stage .grid canvas").count() >= 2
    assert int(page.get_attribute("#player", "data-frames")) >= 1
    assert page.text_content("#pytorch-code").startswith("import torch")
    for control in page.locator("#controls input:not([type=hidden]), #controls select, #player input, #player select").all():
        assert control.get_attribute("aria-label"), control.evaluate("e => e.outerHTML")
    page.screenshot(path=str(artifacts / f"view-{path.strip('/')}.png"), full_page=True)
    assert page.problems == [] and page.outside == []


def test_transpose_three_ways_agree(page, live_server):
    open_view(page, f"{live_server}/transpose?h=3&w=3&k=3&stride=2&padding=1&output_padding=1&seed=2")
    assert "equals the scatter ✓" in page.inner_text("#t-d")
    data = download_json(page)
    view = httpx.post(f"{live_server}/api/v1/views/transpose", json=data["request"], timeout=30).json()
    assert view["matches"] is True
    assert page.get_attribute("#g-s .grid", "data-rows") == str(view["stretched_shape"][2])
    # scatter: input (1, 1) lights every output cell whose trace reads it
    hover_cell(page, "#g-x .grid", 1, 1)
    fed = {tuple(c["out"][2:]) for c in data["conv_transpose2d"]["cells"] if [0, 1, 1] in c["reads"]}
    assert lit(page, "#g-y .grid", "fed") == fed
    # gather: output (2, 3) lights the inputs it reads, and its window on the stretched input
    hover_cell(page, "#g-d .grid", 2, 3)
    cell = next(c for c in data["conv_transpose2d"]["cells"] if c["out"][2:] == [2, 3])
    assert lit(page, "#g-x .grid") == {(r[1], r[2]) for r in cell["reads"]}
    direct = next(c for c in data["direct"]["cells"] if c["out"][2:] == [2, 3])
    assert lit(page, "#g-s .grid") == {(r[1], r[2]) for r in direct["reads"]}
    assert "kernel" in page.inner_text("#t-w") and "cross-correlation" in page.inner_text("#t-f")
    assert page.problems == []


def test_transpose_illegal_output_padding(page, live_server):
    open_view(page, f"{live_server}/transpose?stride=2&output_padding=2")
    assert "smaller than stride (2) or dilation (1)" in page.inner_text("#error-output_padding")


def test_pool_windows_indices_and_unpooling(page, live_server):
    open_view(page, f"{live_server}/pool")  # the lecture's 4×4, kernel 2
    hover_cell(page, "#g-max .grid", 0, 1)
    assert lit(page, "#g-in .grid") == {(0, 2), (0, 3), (1, 2), (1, 3)}
    assert "= 9, at (0, 3) → index 3" in page.inner_text("#sum")
    assert lit(page, "#g-unpool .grid", "fed") == {(0, 3)}  # max-unpooling puts 9 back where it was
    assert "(2 + 9 + 1 + 5) / 4 = 4.25" in page.inner_text("#sum")
    hover_cell(page, "#g-near .grid", 3, 3)
    assert lit(page, "#g-max .grid") == {(1, 1)}
    assert page.problems == []


def test_pool_ceil_mode_partial_window_and_divisor(page, live_server):
    open_view(page, f"{live_server}/pool?input=random&h=5&w=5&kernel_size=2&ceil_mode=1&count_include_pad=0")
    assert page.get_attribute("#g-max .grid", "data-rows") == "3"
    data = download_json(page)
    hover_cell(page, "#g-max .grid", 2, 2)
    corner = data["max"]["cells"][-1]
    assert lit(page, "#g-in .grid") == {(r[1], r[2]) for r in corner["reads"]} == {(4, 4)}
    assert "partial window (1 of 4 cells)" in page.inner_text("#sum")


def test_matrices_rows_light_their_windows_and_back(page, live_server):
    open_view(page, f"{live_server}/matrices?h=4&w=5&padding=1&stride=1&seed=7")
    data = download_json(page)
    cells = data["trace"]["cells"]
    hover_cell(page, "#g-im2col .grid", 6, 2)  # a row lights its window
    assert lit(page, "#g-x .grid") == {(r[1], r[2]) for r in cells[6]["reads"]}
    assert lit(page, "#g-y .grid", "current") == {tuple(cells[6]["out"][2:])}
    hover_cell(page, "#g-y .grid", 1, 3)  # a window lights its row
    row = next(i for i, c in enumerate(cells) if c["out"][2:] == [1, 3])
    assert {r for r, _ in lit(page, "#g-im2col .grid")} == {row}
    assert {r for r, _ in lit(page, "#g-toeplitz .grid")} == {row}
    hover_cell(page, "#g-x .grid", 2, 2)  # an input cell lights every row that reads it, in its own column
    rows = {i for i, c in enumerate(cells) if [0, 2, 2] in c["reads"]}
    assert {r for r, _ in lit(page, "#g-toeplitz .grid", "fed")} == rows
    assert {c for _, c in lit(page, "#g-toeplitz .grid", "fed")} == {2 * 5 + 2}
    assert page.problems == []


def test_receptive_field_table_click_and_gridding(page, live_server, api_paths):
    if "/api/v1/receptive-field" not in api_paths or "/api/v1/presets" not in api_paths:
        pytest.skip("the arithmetic endpoints are not on this server yet")
    open_view(page, f"{live_server}/receptive-field")
    rows = page.locator("#rf-table tbody tr")
    assert rows.count() == 4  # the input and three dilated convolutions
    assert [rows.nth(i).locator("td").nth(5).inner_text() for i in range(4)] == ["1", "3", "7", "15"]
    hover_cell(page, "#levels .grid >> nth=0", 3, 4)
    page.mouse.down()
    page.mouse.up()
    page.wait_for_url("**ux=4**")
    page.wait_for_selector("#sum:has-text('unit (3, 4)')")
    page.select_option("select[name=preset]", "lecture-two-convs")
    page.wait_for_selector("#rf-table tbody tr:nth-child(3) td:has-text('7')")
    stack = "[" + ",".join(['{"op":"conv2d","out_channels":1,"kernel_size":3,"padding":2,"dilation":2}'] * 3) + "]"
    open_view(page, f"{live_server}/receptive-field?preset=custom&h=32&w=32&effective=1&stack={stack}")
    assert "120 inside the field do not (dilation leaves gaps: gridding)" in page.inner_text("#sum")
    assert len(lit(page, "#levels .grid >> nth=-1", "cross")) == 120  # the holes, marked on the input
    assert page.problems == []
