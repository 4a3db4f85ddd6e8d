"""The lab's sweep, cell by cell: a patch a lecture can sit through, moved by a click on the map it fills."""
from __future__ import annotations

import pytest

from .test_lab import _open, _run, _until, _use_layers

pytestmark = pytest.mark.browser


def test_cell_by_cell_walks_a_16_by_16_patch_that_a_click_moves(page, live_server, artifacts):
    _open(page, live_server)
    page.select_option("#lab-side", "256")
    _use_layers(page, [{"op": "conv2d", "kernel": "sobel_x", "padding": 1}])
    _run(page)
    page.select_option("#lab-sweep-unit", "cell")
    slider = page.locator("#player input[type=range]")
    assert int(slider.get_attribute("max")) == 255  # 256 frames, not 65,536
    assert page.get_attribute("#player", "data-patch") == "0,0,16x16"
    assert page.input_value("#lab-sweep-zoom") == "4"  # a 16×16 patch of a 256² map, zoomed in around it
    page.click("#player [data-act=fwd]")
    assert page.get_attribute("#player", "data-cell") == "0,1"
    for _ in range(15):
        page.click("#player [data-act=fwd]")
    assert page.get_attribute("#player", "data-cell") == "1,0"  # the patch's next row, not column 16

    out = page.locator("#lab-sweep-out")
    box = out.bounding_box()
    out.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    # Zoomed ×4 around (1, 0), the view shows output cells 0…63 (held at the edge): its middle is cell 32,
    # so the patch centred there starts at 32 − 8.
    _until(page, "document.getElementById('player').dataset.patch !== '0,0,16x16'")
    r0, c0, size = page.get_attribute("#player", "data-patch").split(",")
    assert (r0, c0, size) == ("24", "24", "16x16")
    r, c = map(int, page.get_attribute("#player", "data-cell").split(","))
    assert (r, c) == (int(r0) + 1, int(c0))  # the frame is kept: second row of the new patch
    assert f"output ({r}, {c}) reads input rows {r - 1}, {r}, {r + 1}" in page.inner_text("#lab-sweep-text")
    page.locator(".lab-sweep").screenshot(path=str(artifacts / "lab-sweep-patch.png"))
    assert page.problems == []


def test_a_small_map_steps_through_every_cell(page, live_server):
    _open(page, live_server)
    page.select_option("#lab-side", "64")
    _use_layers(page, [{"op": "max_pool2d", "kernel_size": 8}])
    _run(page)
    page.select_option("#lab-sweep-unit", "cell")
    assert page.get_attribute("#player", "data-patch") == "0,0,8x8"
    assert page.input_value("#lab-sweep-zoom") == "1"
    assert int(page.locator("#player input[type=range]").get_attribute("max")) == 63
