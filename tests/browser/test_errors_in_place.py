"""A 4xx after an edit greys the last good drawing where it is, with the server's sentence, and nothing below
moves; the home page's formula follows its inputs."""
from __future__ import annotations

import httpx
import pytest

from .helpers import open_view

pytestmark = pytest.mark.browser
BAD = [  # (page, control, an impossible value, words of the server's sentence)
    ("/conv", "dilation", "9", "spans"),
    ("/transpose", "output_padding", "5", "output_padding"),
    ("/pool", "kernel_size", "9", "spans"),
    ("/matrices", "stride", "0", "stride"),
]


@pytest.mark.parametrize(("path", "name", "value", "words"), BAD, ids=[b[0].strip("/") for b in BAD])
def test_error_greys_the_drawing_in_place(page, live_server, path, name, value, words):
    open_view(page, live_server + path)
    stage = page.locator("#stage")
    before = stage.bounding_box()
    player = page.locator("#player").bounding_box()
    page.fill(f"#controls [name={name}]", value)
    page.wait_for_selector("#stage.stale")
    note = page.locator(".field-error, #view-error:not([hidden])").first
    assert words in note.inner_text()
    assert stage.bounding_box()["y"] == before["y"]  # the layout did not move
    assert page.locator("#player").bounding_box()["y"] == player["y"]
    assert page.locator("#stage canvas").count() >= 2  # the old drawing is still there, greyed
    assert float(page.evaluate("getComputedStyle(document.querySelector('#stage > :not(#view-error)')).opacity")) < 1
    page.keyboard.press("Control+a")
    page.fill(f"#controls [name={name}]", "1")
    page.wait_for_selector("#stage:not(.stale)")
    assert page.locator(".field-error").count() == 0


def test_home_demo_formula_follows_the_inputs(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready='true']")
    first = page.inner_text("#demo-formula")
    page.fill("input[name=stride]", "2")
    page.wait_for_selector("#demo-formula:has-text('/2⌋')")
    shapes = httpx.post(f"{live_server}/api/v1/shapes", json={"input_shape": [1, 6, 6], "layers": [
        {"op": "conv2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1}]}).json()
    assert page.inner_text("#demo-formula") == f"o = {shapes['layers'][0]['formula']}" != first
    assert page.inner_text("#output-caption") == "output 3×3"
    plots = page.locator(".demo .heatmaps").bounding_box()
    page.fill("input[name=dilation]", "3")
    page.fill("input[name=padding]", "0")
    page.wait_for_selector("#demo-error:not([hidden])")
    assert "no output size" in page.inner_text("#demo-formula")  # not the old formula
    assert "stale" in page.get_attribute(".demo .heatmaps", "class")
    assert page.locator(".demo .heatmaps").bounding_box()["y"] == plots["y"]
    page.fill("input[name=padding]", "2")
    page.wait_for_selector(".demo .heatmaps:not(.stale)")
    assert "padding" not in page.inner_text("#demo-formula") and "= " in page.inner_text("#demo-formula")
