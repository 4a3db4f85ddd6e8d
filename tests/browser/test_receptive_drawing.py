"""/receptive-field keeps its effective-field heatmap drawn through every kind of change, and the lecture's
5-pixel example shows the padding ring the unclipped (dashed) field reaches into."""
from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from .helpers import download_json, hover_cell, open_view

pytestmark = pytest.mark.browser


def coloured_share(png: bytes) -> float:
    """The share of the image's pixels in a saturated colour: a Viridis heatmap is mostly those; a blank or
    grey (text and axes only) panel has none."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = img.size
    px = [img.getpixel((x, y)) for y in range(0, h, 2) for x in range(0, w, 2)]
    return sum(1 for r, g, b in px if max(r, g, b) - min(r, g, b) > 60) / len(px)


def heatmap_drawn(page) -> bool:
    page.wait_for_selector("#plot-effective .hm image, #plot-effective canvas")
    for _ in range(40):  # Plotly draws after the data arrives; wait for it, the assertion is on pixels
        if coloured_share(page.locator("#plot-effective").screenshot()) > 0.05:
            return True
        page.wait_for_timeout(100)
    return False


def settle(page, text: str) -> None:
    page.wait_for_selector(f"#t-eff:has-text('{text}')")
    page.wait_for_selector("#controls:not([aria-busy]):not([data-pending])")  # the edit's own drawing, not the last


@pytest.fixture
def rf(page, live_server, api_paths):
    if "/api/v1/receptive-field" not in api_paths or "/api/v1/presets" not in api_paths:
        pytest.skip("the arithmetic endpoints are not on this server yet")
    open_view(page, f"{live_server}/receptive-field")
    return page


def test_heatmap_drawn_after_every_kind_of_change(rf):
    page = rf
    assert heatmap_drawn(page)
    # a preset
    page.select_option("select[name=preset]", "lecture-two-convs")
    settle(page, "pixels reach the unit")
    page.wait_for_selector("#rf-table tbody tr:nth-child(3) td:has-text('7')")
    assert heatmap_drawn(page)
    # a unit: click a pixel of conv1's map (the level above the input)
    before = page.inner_text("#sum")
    hover_cell(page, "#levels .grid >> nth=1", 0, 0)
    page.mouse.down()
    page.mouse.up()
    page.wait_for_selector("#sum:has-text('unit (0, 0)')")
    assert page.inner_text("#sum") != before
    settle(page, "pixels reach the unit")
    assert heatmap_drawn(page)
    # the input size
    page.fill("input[name=h]", "9")
    page.fill("input[name=w]", "9")
    page.wait_for_selector("#rf-table tbody tr:nth-child(1) td:has-text('9')")
    settle(page, "pixels reach the unit")
    assert heatmap_drawn(page)
    # the effective field off and on again
    page.uncheck("input[name=effective]")
    page.wait_for_selector("#plot-effective:has-text('Tick')")
    page.check("input[name=effective]")
    settle(page, "pixels reach the unit")
    assert heatmap_drawn(page)
    assert page.problems == []


def test_lecture_example_draws_padding_ring_and_dashed_field(rf, artifacts):
    page = rf
    open_view(page, page.url.split("?")[0] + "?preset=lecture-two-convs")
    data = download_json(page)
    region = data["fields"]["0"]["region"]
    assert region["x1"] > 5 or region["x0"] < 0  # the centre unit's field reaches past the 5×5 input
    grid = page.locator("#levels .grid >> nth=-1")  # the input level
    row0, col0 = int(grid.get_attribute("data-row0")), int(grid.get_attribute("data-col0"))
    rows, cols = int(grid.get_attribute("data-rows")), int(grid.get_attribute("data-cols"))
    assert row0 == min(0, math.floor(region["y0"])) and col0 == min(0, math.floor(region["x0"]))
    assert row0 + rows == max(5, math.ceil(region["y1"])) and col0 + cols == max(5, math.ceil(region["x1"]))
    assert rows > 5 or cols > 5  # a ring of padding around the map
    cell = int(grid.get_attribute("data-cell"))
    assert cell >= 40  # a 5-pixel input is drawn big enough to read
    # the dashed box: orange pixels on the unclipped field's far edge, outside the map
    shot = grid.locator("canvas.over").screenshot()
    (artifacts / "receptive-lecture-input.png").write_bytes(shot)
    img = Image.open(io.BytesIO(shot)).convert("RGB")
    margin = int(grid.get_attribute("data-margin"))
    x_edge = margin + (region["x1"] - col0) * cell - 1
    ys = range(int(margin + (max(region["y0"], 5) - row0) * cell), int(margin + (region["y1"] - row0) * cell) - 2)
    orange = [img.getpixel((int(x_edge), y)) for y in ys]
    assert any(r > 200 and 120 < g < 190 and b < 60 for r, g, b in orange)
    # a padding cell says what it is
    hover_cell(page, "#levels .grid >> nth=-1", row0, col0)
    assert page.problems == []
