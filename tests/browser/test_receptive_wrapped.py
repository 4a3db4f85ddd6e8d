"""/receptive-field draws the pixels a unit reads through reflect, replicate or circular padding (the server's
`wrapped` ranges), dotted, beside its clipped field, and names them in the sentence under the drawing."""
from __future__ import annotations

import json

import httpx
import pytest

from .helpers import open_view

pytestmark = pytest.mark.browser


def boxes(text: str | None) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in part.split(",")) for part in (text or "").split(";") if part]


def expected_boxes(clipped: dict, wrapped: dict) -> list[tuple[int, ...]]:
    """Every row part by every column part, less the clipped field itself (the form reach.py documents)."""
    rows = [(clipped["y0"], clipped["y1"], False)] + [(a, b, True) for a, b in wrapped["y"]]
    cols = [(clipped["x0"], clipped["x1"], False)] + [(a, b, True) for a, b in wrapped["x"]]
    return [(y0, y1, x0, x1) for y0, y1, wy in rows for x0, x1, wx in cols if wy or wx]


# circular wraps to the far edge; reflect reaches past the field only where p > d(k-1)/2
@pytest.mark.parametrize("mode, padding", [("circular", 1), ("reflect", 2)])
def test_the_field_read_through_copying_padding_is_drawn(page, live_server, artifacts, mode, padding):
    layers = [{"op": "conv2d", "out_channels": 1, "kernel_size": 3, "padding": padding, "padding_mode": mode},
              {"op": "conv2d", "out_channels": 1, "kernel_size": 3, "padding": padding, "padding_mode": mode}]
    stack = json.dumps(layers, separators=(",", ":"))
    open_view(page, f"{live_server}/receptive-field?preset=custom&h=10&w=10&c=1&effective=1&stack={stack}"
                    "&ul=2&uy=0&ux=0")
    page.wait_for_selector("#sum:has-text('unit (0, 0)')")
    page.wait_for_selector("#controls:not([aria-busy])")
    api = httpx.post(f"{live_server}/api/v1/receptive-field", json={
        "input_shape": [1, 10, 10], "layers": layers, "unit": {"layer": 2, "y": 0, "x": 0}}).json()
    want = expected_boxes(api["clipped"], api["wrapped"])
    assert want, "a corner unit of a copying-padding stack reads pixels outside its clipped field"
    drawn = boxes(page.get_attribute("#levels .grid >> nth=-1", "data-wrapped"))
    assert drawn == want
    text = page.inner_text("#sum")
    assert "through the padding" in text and f"{mode} padding" in text
    for a, b in api["wrapped"]["y"]:
        assert f"{a} … {b}" in text
    # Every pixel with a nonzero gradient lies in the clipped field or a drawn part: the claim the drawing makes.
    eff = httpx.post(f"{live_server}/api/v1/receptive-field", json={
        "input_shape": [1, 10, 10], "layers": layers, "unit": {"layer": 2, "y": 0, "x": 0},
        "effective": {"weights": "constant", "channels": 1}}).json()["effective"]
    assert eff["heatmap"]["encoding"] == "list"  # 10×10: exact values as a nested list
    grad = eff["heatmap"]["data"]
    c = api["clipped"]
    parts = [(c["y0"], c["y1"], c["x0"], c["x1"])] + drawn
    outside = [(y, x) for y, row in enumerate(grad) for x, v in enumerate(row)
               if v and not (c["y0"] <= y < c["y1"] and c["x0"] <= x < c["x1"])]
    assert outside, "the effective field reaches past the clipped field"
    for y, x in outside:
        assert any(y0 <= y < y1 and x0 <= x < x1 for y0, y1, x0, x1 in parts), (y, x)
    page.screenshot(path=str(artifacts / f"receptive-wrapped-{mode}.png"), full_page=True)
    assert page.problems == [] and page.outside == []


def test_zeros_padding_draws_no_wrapped_part(page, live_server):
    layers = [{"op": "conv2d", "out_channels": 1, "kernel_size": 3, "padding": 1}]
    stack = json.dumps(layers, separators=(",", ":"))
    open_view(page, f"{live_server}/receptive-field?preset=custom&h=8&w=8&c=1&stack={stack}&ul=1&uy=0&ux=0")
    page.wait_for_selector("#sum:has-text('unit (0, 0)')")
    assert page.get_attribute("#levels .grid >> nth=-1", "data-wrapped") == ""
    assert "through the padding" not in page.inner_text("#sum")
