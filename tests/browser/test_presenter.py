"""Presenter mode on a projector: at 1280×720 and 1920×1080 every view fits one screen with its formula and sum
in view, the text is large enough for a hall, the values in cells follow the size rule, and a highlighted value
keeps at least 4.5:1 contrast, measured on the pixels the canvas drew. Screenshots go to test-artifacts/presenter/.

The size rule (static/js/grid.js): in presenter mode a value is written at 0.42 × its cell, at most 40 px, and
only when that is at least 16 px at 1080p (the same share of a smaller screen: 11 px at 720p); so from 57 px
cells up a value is at least 24 px. The stage fit gives the grids as much of the screen as the view leaves."""
from __future__ import annotations

from typing import Any

import pytest

from .helpers import open_view

SIZES = [(1280, 720), (1920, 1080)]
# (path, elements that must be on screen: the formula with numbers and the current sum)
VIEWS = [("/conv", ["#formula", "#sum"]), ("/transpose", ["#sum"]), ("/pool", ["#sum"]), ("/matrices", ["#sum"]),
         ("/receptive-field", ["#sum"]), ("/backprop", ["#sum"]), ("/fully-convolutional", ["#sum"]),
         ("/equivariance", ["#sum"]), ("/lab?sample=chelsea", ["#lab-status"])]
# views whose first frame highlights cells with values written in them
HIGHLIGHTS = {"/conv", "/transpose", "/pool", "/matrices", "/backprop"}

SMALL_TEXT = """() => {
  const seen = (e) => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 1 && r.height > 1 && r.bottom > 0 && r.top < innerHeight && s.visibility !== "hidden"
      && Number(s.opacity) > 0; };
  const out = [];
  for (const e of document.querySelectorAll("body *")) {
    if (e.closest("[hidden]") || e.type === "range" || !seen(e)) continue;
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own && e.tagName !== "SELECT" && e.tagName !== "INPUT") continue;
    const px = parseFloat(getComputedStyle(e).fontSize);
    if (px < 16) out.push(`${e.tagName}#${e.id}.${e.className.baseVal ?? e.className} "${e.textContent.trim().slice(0, 30)}" ${px}px`);
  }
  return out;
}"""

GRIDS = """() => [...document.querySelectorAll(".grid")].filter((g) => g.offsetParent && g.getBoundingClientRect().width > 1)
  .map((g) => ({ label: g.getAttribute("aria-label"), cell: Number(g.dataset.cell), font: Number(g.dataset.font),
                 axis: Number(g.dataset.axisFont), margin: Number(g.dataset.margin) }))"""

# For every highlighted cell (current, lit, fed) of every grid that writes values: the cell's pixels from both
# canvases composited; its background is the commonest colour inside the highlight's border, its ink the pixel
# that contrasts most with it (WCAG ratio). Cells with no text (too few pixels off the background) are left out.
CONTRAST = """() => {
  const lin = (v) => { const x = v / 255; return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
  const lum = (p) => 0.2126 * lin(p[0]) + 0.7152 * lin(p[1]) + 0.0722 * lin(p[2]);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)]; return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const out = [];
  for (const grid of document.querySelectorAll(".grid")) {
    if (!grid.offsetParent || !Number(grid.dataset.font)) continue;
    const [base, over] = grid.querySelectorAll("canvas");
    const c = document.createElement("canvas");
    c.width = base.width; c.height = base.height;
    const g = c.getContext("2d");
    g.fillStyle = "#ffffff"; g.fillRect(0, 0, c.width, c.height);
    g.drawImage(base, 0, 0); g.drawImage(over, 0, 0);
    const img = g.getImageData(0, 0, c.width, c.height).data;
    const dpr = base.width / parseFloat(base.style.width);
    const d = grid.dataset;
    const [s, m, r0, c0] = [Number(d.cell), Number(d.margin), Number(d.row0), Number(d.col0)];
    const cells = [d.current, d.lit, d.fed].join(";").split(";").filter(Boolean).slice(0, 40);
    for (const rc of cells) {
      const [r, col] = rc.split(",").map(Number);
      const inset = Math.max(5, s * 0.12);
      const x0 = Math.round((m + (col - c0) * s + inset) * dpr), x1 = Math.round((m + (col - c0 + 1) * s - inset) * dpr);
      const y0 = Math.round((m + (r - r0) * s + inset) * dpr), y1 = Math.round((m + (r - r0 + 1) * s - inset) * dpr);
      const counts = new Map(); const px = [];
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
        const i = (y * c.width + x) * 4; const p = [img[i], img[i + 1], img[i + 2]];
        px.push(p); const k = p.join(","); counts.set(k, (counts.get(k) || 0) + 1);
      }
      if (!px.length) continue;
      const bg = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0].split(",").map(Number);
      let best = 1, inked = 0;
      for (const p of px) { const q = ratio(p, bg); if (q > best) best = q; if (q >= 1.5) inked++; }
      if (inked >= 12) out.push({ grid: grid.getAttribute("aria-label").split(";")[0], cell: rc, ratio: best, bg });
    }
  }
  return out;
}"""


def _present(page: Any, live_server: str, path: str, size: tuple[int, int]) -> None:
    w, h = size
    page.set_viewport_size({"width": w, "height": h})
    if path.startswith("/lab"):
        page.goto(live_server + path)
        page.wait_for_selector("body[data-ran='true']", timeout=30_000)
        page.keyboard.press("p")
        page.wait_for_selector("body.presenter")
        page.wait_for_selector("body[data-ran='true']", timeout=30_000)
    else:
        open_view(page, live_server + path)
        page.keyboard.press("p")
        page.wait_for_selector("body.presenter[data-stage-fit]")
    page.wait_for_timeout(400)  # a full-screen request's resize event, debounced, fits the stage once more


def _name(path: str) -> str:
    return path.split("?")[0].strip("/").replace("/", "-")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("path,facts", VIEWS, ids=[v[0].split("?")[0] for v in VIEWS])
def test_presenter_fits_one_screen_with_readable_text(page, live_server, artifacts, path, facts, size):
    _present(page, live_server, path, size)
    folder = artifacts / "presenter"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{_name(path)}-{size[0]}x{size[1]}.png"))

    height, width, sh, sw = page.evaluate("""[innerHeight, innerWidth, document.documentElement.scrollHeight,
                                              document.documentElement.scrollWidth]""")
    assert sh <= height and sw <= width, f"{path} at {size}: the page is {sw}×{sh}, the screen {width}×{height}"
    for sel in facts:
        box = page.locator(sel).bounding_box()
        assert box and page.inner_text(sel).strip(), f"{sel} is empty or not shown on {path}"
        assert box["y"] >= 0 and box["y"] + box["height"] <= height and box["x"] + box["width"] <= width, (sel, box)
    if not path.startswith("/lab"):
        # the parameters are one click away, in a drawer over the stage, and closing it restores the fit
        assert not page.is_visible("#controls")
        page.click("#controls-toggle")
        assert page.is_visible("#controls") and page.get_attribute("#controls-toggle", "aria-expanded") == "true"
        assert page.evaluate("document.documentElement.scrollHeight <= innerHeight")
        page.keyboard.press("Escape")
        assert not page.is_visible("#controls")
        # stepping on keeps it on one screen (the sum's lines change from frame to frame)
        for _ in range(6):
            page.keyboard.press("ArrowRight")
            assert page.evaluate("document.documentElement.scrollHeight <= innerHeight"), page.inner_text("#sum")

    if size[1] >= 1080:
        small = page.evaluate(SMALL_TEXT)
        assert small == [], f"text under 16 px on {path}: {small}"
    least = round(16 * min(1, size[1] / 1080))
    for g in page.evaluate(GRIDS):
        if g["font"]:
            assert g["font"] >= least, (path, g)
        if g["cell"] >= 57:
            assert g["font"] >= 24, (path, g)
        if g["margin"]:
            assert g["axis"] >= least, (path, g)
    assert page.problems == []


def test_the_lecture_example_has_values_of_24_px_at_1080p(page, live_server):
    _present(page, live_server, "/conv", (1920, 1080))
    grids = page.evaluate(GRIDS)
    assert len(grids) == 3
    assert all(g["font"] >= 24 for g in grids), grids  # input 9×9 with its padding ring, kernel, output 7×7
    # the stage is used: the grids fill most of the height left under the bar
    bottom = page.evaluate("Math.max(...[...document.querySelectorAll('.grid')].map((g) => g.getBoundingClientRect().bottom))")
    assert bottom > 0.6 * 1080


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("path", sorted(HIGHLIGHTS))
def test_highlighted_values_keep_their_contrast(page, live_server, path, size):
    _present(page, live_server, path, size)
    page.keyboard.press("ArrowRight")  # a frame in the middle of the sum: lit taps, a current cell
    cells = page.evaluate(CONTRAST)
    if size[1] >= 1080:
        assert cells, f"no highlighted cell with a value on {path}"
    low = [c for c in cells if c["ratio"] < 4.5]
    assert low == [], f"highlighted values under 4.5:1 on {path}: {low}"


ON_SCREEN = """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
  return r.width > 1 && r.height > 1 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }"""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_lab_presenter_shows_maps_in_columns_and_the_whole_sweep_on_one_screen(page, live_server, artifacts, size):
    _present(page, live_server, "/lab?sample=chelsea", size)
    folder = artifacts / "presenter"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"lab-sweep-{size[0]}x{size[1]}.png"))
    fits = "document.scrollingElement.scrollHeight <= innerHeight && document.scrollingElement.scrollWidth <= innerWidth"
    assert page.evaluate(fits), page.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
    # the sweep whole: its controls, the player, both canvases with their captions, and its sentence
    for sel in ["#lab-sweep-layer", "#player [data-act='fwd']", "#lab-sweep-in", "#lab-sweep-out", "#lab-sweep-in-cap",
                "#lab-sweep-out-cap", "#lab-sweep-text", "#lab-run", "#controls-toggle", "#presenter"]:
        assert page.evaluate(ON_SCREEN, sel), f"{sel} is not wholly on the screen at {size}"
    # the image and the layers side by side: one column each, left to right, their first maps on one row
    columns = page.evaluate("""() => [...document.querySelectorAll('#lab-maps .lab-layer')].map((c) => {
      const r = c.querySelector('canvas').getBoundingClientRect(); return [r.left, r.top, r.bottom]; })""")
    assert len(columns) == 4, columns  # the image and the default preset's three layers
    assert all(a[0] < b[0] for a, b in zip(columns, columns[1:])), columns
    assert len({round(c[1]) for c in columns}) == 1 and all(c[2] <= size[1] for c in columns), columns
    # the editor is out of the way, one click away in a drawer, and the screen still fits with it open
    assert not page.is_visible("#lab-preset")
    page.click("#controls-toggle")
    assert page.is_visible("#lab-preset") and page.get_attribute("#controls-toggle", "aria-expanded") == "true"
    assert page.evaluate(fits)
    page.screenshot(path=str(folder / f"lab-drawer-{size[0]}x{size[1]}.png"))
    if size[1] >= 1080:
        small = page.evaluate(SMALL_TEXT)
        assert small == [], f"text under 16 px on /lab with its drawer open: {small}"
    page.keyboard.press("Escape")
    assert not page.is_visible("#lab-preset")
    # stepping the sweep on keeps it on one screen
    for _ in range(4):
        page.click("#player [data-act='fwd']")
    assert page.evaluate(fits) and page.evaluate(ON_SCREEN, "#lab-sweep-text"), page.inner_text("#lab-sweep-text")
    assert page.problems == []
