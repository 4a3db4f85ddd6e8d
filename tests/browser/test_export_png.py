"""The PNG export carries the whole view: besides the grids, the legend's swatches, the INPUT/OUTPUT badges and
the n/j/r/start table are in the image, where they are on screen (the PNG is the stage at 2× scale)."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from .helpers import open_view

pytestmark = pytest.mark.browser


def export(page: Any, artifacts: Any, name: str) -> tuple[np.ndarray, float]:
    with page.expect_download() as info:
        page.click("#export-png")
    with open(info.value.path(), "rb") as f:
        png = f.read()
    (artifacts / f"export-{name}.png").write_bytes(png)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    stage = page.locator("#stage").bounding_box()
    scale = image.shape[1] / stage["width"]
    assert scale == pytest.approx(2, abs=0.02)
    assert image.shape[0] == pytest.approx(stage["height"] * scale, abs=2)  # everything the stage holds
    return image, scale


def region(page: Any, image: np.ndarray, scale: float, selector: str) -> np.ndarray:
    """The pixels of the PNG where the element is on screen."""
    stage, el = page.locator("#stage").bounding_box(), page.locator(selector).first.bounding_box()
    x0, y0 = int((el["x"] - stage["x"]) * scale), int((el["y"] - stage["y"]) * scale)
    return image[y0:y0 + int(el["height"] * scale), x0:x0 + int(el["width"] * scale)]


def ink(pixels: np.ndarray) -> float:
    """The share of pixels that are not (near) white."""
    return float((pixels.min(axis=2) < 200).mean()) if pixels.size else 0.0


def near(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> int:
    return int((np.abs(pixels - np.array(rgb)).max(axis=2) <= tol).sum())


def test_receptive_field_export_has_the_table_and_the_legend(page, live_server, artifacts, api_paths):
    if "/api/v1/receptive-field" not in api_paths:
        pytest.skip("POST /api/v1/receptive-field is not on this server yet")
    open_view(page, f"{live_server}/receptive-field?effective=0")
    page.wait_for_selector("#erf-depth[data-ready='true']", timeout=60_000)  # its panel is in the stage too
    image, scale = export(page, artifacts, "receptive-field")
    table = region(page, image, scale, "#rf-table")
    assert ink(table) > 0.03  # its numbers and rules are drawn
    for row in range(page.locator("#rf-table tbody tr").count()):  # every row, not only the first
        assert ink(region(page, image, scale, f"#rf-table tbody tr:nth-child({row + 1})")) > 0.02, row
    lit = region(page, image, scale, ".legend .sw-lit")
    assert near(lit, (230, 159, 0)) > 10  # the swatch's orange border
    assert ink(region(page, image, scale, ".legend")) > 0.02


def test_transpose_export_has_the_badges_and_the_swatches(page, live_server, artifacts):
    open_view(page, f"{live_server}/transpose?h=3&w=3&stride=2")
    image, scale = export(page, artifacts, "transpose")
    title_in = region(page, image, scale, ".role-input .panel-title")
    title_out = region(page, image, scale, ".role-output .panel-title")
    assert near(title_in, (0, 114, 178), 25) > 50  # the blue INPUT badge
    assert near(title_out, (213, 94, 0), 25) > 50  # the orange OUTPUT badge
    assert ink(region(page, image, scale, ".legend .sw-inserted")) > 0.3
    assert page.problems == []
