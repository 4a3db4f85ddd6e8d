"""Reading the pages the way a user sees them: cells by their published geometry, lit cells by data attributes."""
from __future__ import annotations

import json
from typing import Any


def open_view(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']")


def cell_point(page: Any, selector: str, r: int, c: int) -> tuple[float, float]:
    """The centre of cell (r, c) of a grid, in page coordinates, from the geometry the grid publishes."""
    grid = page.locator(selector)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()

    def get(name: str) -> float:
        return float(grid.get_attribute(f"data-{name}"))

    size, margin = get("cell"), get("margin")
    return (box["x"] + margin + (c - get("col0") + 0.5) * size, box["y"] + margin + (r - get("row0") + 0.5) * size)


def hover_cell(page: Any, selector: str, r: int, c: int) -> None:
    page.mouse.move(*cell_point(page, selector, r, c))


def lit(page: Any, selector: str, attr: str = "lit") -> set[tuple[int, int]]:
    value = page.get_attribute(selector, f"data-{attr}") or ""
    return {tuple(int(v) for v in pair.split(",")) for pair in value.split(";") if pair}


def download_json(page: Any) -> Any:
    with page.expect_download() as info:
        page.click("#export-json")
    with open(info.value.path(), encoding="utf-8") as f:
        return json.load(f)
