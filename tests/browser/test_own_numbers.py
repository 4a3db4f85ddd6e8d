"""A slide's own numbers: typed into the input and kernel boxes, kept in the link, computed by the server;
the page shows what torch gives for them."""
from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlparse

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from .helpers import download_json, hover_cell, open_view

pytestmark = pytest.mark.browser
X = "1 2 0 3\n4 -1 2 0\n0 1 5 2\n3 0 1 1"
X_PASTED = "[[1, 2, 0, 3], [4, -1, 2, 0], [0, 1, 5, 2], [3, 0, 1, 1]]"  # as Python prints it
W = "1, 0\n-2 3"
XT = torch.tensor([[1, 2, 0, 3], [4, -1, 2, 0], [0, 1, 5, 2], [3, 0, 1, 1]], dtype=torch.float64)[None, None]
WT = torch.tensor([[1, 0], [-2, 3]], dtype=torch.float64)[None, None]


def last_sum(page) -> float:
    return float(re.findall(r"= (-?[\d.]+)", page.inner_text("#sum"))[-1])


def type_numbers(page, x: str, w: str | None) -> None:
    page.fill("textarea[name=values_x]", x)
    if w is not None:
        page.fill("textarea[name=values_w]", w)
    want = {"values_x": [x]} | ({"values_w": [w]} if w is not None else {})
    page.wait_for_url(lambda u: all(parse_qs(urlparse(u).query).get(k) == v for k, v in want.items()))
    page.wait_for_selector("#controls:not([aria-busy]):not([data-pending])")


def reopened(page, link):
    other = page.context.new_page()
    open_view(other, link)
    return other


@pytest.mark.parametrize("x", [X, X_PASTED], ids=["rows", "python"])
def test_conv_typed_numbers_give_torchs_output(page, live_server, x):
    open_view(page, f"{live_server}/conv?padding=1&stride=1")
    type_numbers(page, x, W)
    other = reopened(page, page.url)  # the link carries the numbers
    assert other.input_value("textarea[name=values_x]") == x
    data = download_json(other)
    assert data["request"]["input"] == XT.tolist() and data["request"]["weight"] == WT.tolist()
    expected = F.conv2d(XT, WT, padding=1)
    cells = data["trace"]["cells"]
    assert len(cells) == expected.numel()
    for cell in cells:
        assert cell["value"] == pytest.approx(float(expected[tuple(cell["out"])]))
    assert last_sum(other) == pytest.approx(float(expected.flatten()[0]))  # frame 0 shows y(0, 0)
    assert other.is_disabled("input[name=h]") and other.is_disabled("input[name=kh]")
    assert page.problems == []


def test_transpose_typed_numbers(page, live_server):
    open_view(page, f"{live_server}/transpose?stride=2&padding=0&animate=gather")
    type_numbers(page, X, W)
    other = reopened(page, page.url)
    data = download_json(other)
    expected = F.conv_transpose2d(XT, WT, stride=2)
    assert int(other.get_attribute("#player", "data-frames")) == expected.numel()
    for cell in data["conv_transpose2d"]["cells"]:
        assert cell["value"] == pytest.approx(float(expected[tuple(cell["out"])]))
    assert last_sum(other) == pytest.approx(float(expected.flatten()[0]))  # gather: frame 0 is y(0, 0)
    assert "equals the scatter ✓" in other.inner_text("#t-d")
    assert page.problems == []


def test_matrices_typed_numbers_and_zero_taps(page, live_server):
    open_view(page, f"{live_server}/matrices")
    type_numbers(page, X, W)
    data = download_json(page)
    expected = F.conv2d(XT, WT)
    assert [c["value"] for c in data["trace"]["cells"]] == pytest.approx(expected.flatten().tolist())
    toe = torch.tensor(data["toeplitz"], dtype=torch.float64)
    assert torch.allclose(toe @ XT.flatten(), expected.flatten())
    # the kernel's 0 tap: C[0, 1] (output 0 reads x(0, 1) under w[0, 1] = 0) is a tap; C[0, 2] is structural
    hover_cell(page, "#g-toeplitz .grid", 0, 1)
    assert "tap whose weight is 0" in page.inner_text(".tip")
    hover_cell(page, "#g-toeplitz .grid", 0, 2)
    assert "structurally" in page.inner_text(".tip")
    page.mouse.move(0, 0)
    grid = page.locator("#g-toeplitz .grid")
    img = Image.open(io.BytesIO(grid.locator("canvas").first.screenshot())).convert("RGB")
    size, margin = int(grid.get_attribute("data-cell")), int(grid.get_attribute("data-margin"))
    at = lambda r, c: img.getpixel((margin + c * size + 2, margin + r * size + 2))  # noqa: E731
    assert at(0, 1) != at(0, 2)  # drawn differently
    assert at(0, 2) == at(0, 3)  # structural zeros look alike
    assert page.problems == []


def test_pool_typed_numbers(page, live_server):
    open_view(page, f"{live_server}/pool?kernel_size=2")
    type_numbers(page, X, None)
    data = download_json(page)
    out = F.max_pool2d(XT, 2)
    assert [c["value"] for c in data["max"]["cells"]] == pytest.approx(out.flatten().tolist())
    assert page.problems == []


def test_bad_numbers_get_the_servers_sentence_beside_the_box(page, live_server):
    open_view(page, f"{live_server}/conv")
    top = page.locator("#stage").bounding_box()["y"]
    page.fill("textarea[name=values_x]", "1 2 3\n4 five 6")
    page.wait_for_selector("#error-values_x")
    assert "every element must be a number" in page.inner_text("#error-values_x")
    assert page.get_attribute("textarea[name=values_x]", "aria-invalid") == "true"
    assert "stale" in page.get_attribute("#stage", "class")  # the old drawing is greyed, in place
    assert page.locator("#stage").bounding_box()["y"] == top
    page.fill("textarea[name=values_x]", "1 2 3\n4 5")
    page.wait_for_selector("#error-values_x:has-text('ragged')")
    page.fill("textarea[name=values_x]", "1 2 3\n4 5 6")
    page.wait_for_selector("#stage:not(.stale)")
    assert page.locator("#error-values_x").count() == 0
