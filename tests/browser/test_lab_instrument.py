"""The image lab as an instrument: links that reproduce, edits that re-run, a probe that lands beside its map,
keyboard probing, presenter mode on one screen, and the live camera's update rate."""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.test_lab import _until, browser  # noqa: F401  (the fake-camera browser)

pytestmark = pytest.mark.browser


def _ran(page: Any, timeout: int = 30_000) -> None:
    page.wait_for_selector("body[data-ran='true']", timeout=timeout)


def test_a_sample_link_keeps_its_sample_and_draws_without_a_click(page, live_server):
    page.goto(live_server + "/lab?sample=chelsea")
    _ran(page)
    assert page.input_value("#lab-sample") == "chelsea"
    assert "sample=chelsea" in page.evaluate("location.search")
    assert page.locator("#lab-maps canvas").count() > 4
    assert page.input_value("#lab-preset") == "edges: Sobel x, relu, max pool 2"
    assert page.evaluate("typeof window.Plotly") == "undefined"  # fetched only for the first hypercolumn
    assert page.problems == [] and page.outside == []


def test_every_lab_control_is_named_by_its_visible_label(page, live_server):
    page.goto(live_server + "/lab?sample=chelsea")
    _ran(page)
    for role, name in [("combobox", "sample"), ("combobox", "work at"), ("combobox", "preset"), ("combobox", "add"),
                       ("combobox", "map size"), ("combobox", "layer"), ("combobox", "step by"), ("combobox", "zoom"),
                       ("checkbox", "effective field overlay"), ("checkbox", "exact values on hover"),
                       ("button", "Run"), ("button", "presenter")]:
        assert page.get_by_role(role, name=name).count() >= 1, (role, name)
    unnamed = page.evaluate("""() => [...document.querySelectorAll('.lab-app label')]
        .flatMap((l) => [...l.querySelectorAll('input, select')])
        .filter((c) => c.getAttribute('aria-label') && !c.getAttribute('aria-label')
            .includes(c.closest('label').firstChild.textContent.trim()))
        .map((c) => c.outerHTML.slice(0, 80))""")
    assert unnamed == [], unnamed


def test_an_edit_re_runs_and_replaces_the_maps(page, live_server):
    page.goto(live_server + "/lab?sample=chelsea")
    _ran(page)
    runs = page.get_attribute("body", "data-runs")
    before = page.inner_text("#lab-status")
    page.click(".lab-json summary")
    page.fill("#lab-json", '[{"op": "max_pool2d", "kernel_size": 4}]')
    page.click("#lab-json-apply")
    _until(page, f"document.body.dataset.runs !== '{runs}' && document.body.dataset.ran === 'true'", 20)
    assert page.inner_text("#lab-status") != before
    assert "3 feature maps from 1 layers" in page.inner_text("#lab-status")
    assert page.locator(".lab-layer").count() == 2
    assert page.input_value("#lab-preset") == ""  # custom
    # "exact values on hover" applies at once: the maps come again as float32
    runs = page.get_attribute("body", "data-runs")
    page.check("#lab-exact")
    _until(page, f"document.body.dataset.runs !== '{runs}' && document.body.dataset.ran === 'true'", 20)
    page.locator(".lab-layer[data-entry='1'] canvas").first.hover()
    page.wait_for_selector("#lab-hover:has-text(' = ')")
    assert page.problems == []


def _inside(page: Any, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    vw, vh = page.evaluate("[innerWidth, innerHeight]")
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= vw and box["y"] + box["height"] <= vh, box


def test_the_probe_lands_beside_its_map_with_a_visible_box_and_keys_work(page, live_server, artifacts):
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(live_server + "/lab?sample=chelsea")
    _ran(page)
    _inside(page, "#lab-status")
    canvas = page.locator(".lab-layer[data-entry='1'] canvas").first
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("body[data-probed='true']", timeout=20_000)
    _inside(page, "#lab-probe")
    # the field box on the image: a run of red-ish pixels at least a few pixels long
    red = page.evaluate("""() => {
        const c = document.querySelector(".lab-layer[data-entry='0'] canvas");
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 120 && d[i + 2] < 90) n += 1;
        return n; }""")
    assert red >= 16, red
    page.screenshot(path=str(artifacts / "lab-probe-1280.png"))
    # keyboard: focus a map, move the cursor, Enter probes that unit
    page.evaluate("document.body.dataset.probed = 'false'")
    canvas.focus()
    page.keyboard.press("ArrowRight")
    cursor = canvas.get_attribute("data-cursor")
    y, x = (int(v) for v in cursor.split(","))
    page.keyboard.press("ArrowDown")
    assert canvas.get_attribute("data-cursor") == f"{y + 1},{x}"
    page.wait_for_selector("#lab-hover:has-text('layer 0 (conv2d) ch 0 unit (')")
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-probed='true']", timeout=20_000)
    assert f"unit ({y + 1}, {x})" in page.inner_text("#lab-probe-text")
    _inside(page, "#lab-probe")
    assert page.problems == []


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_lab_fits_one_screen_normal_and_presenter(page, live_server, artifacts, size):
    w, h = size
    page.set_viewport_size({"width": w, "height": h})
    page.goto(live_server + "/lab?sample=chelsea")
    _ran(page)
    assert page.evaluate("document.documentElement.scrollHeight <= innerHeight")
    page.screenshot(path=str(artifacts / f"lab-{w}x{h}.png"))
    page.keyboard.press("p")
    page.wait_for_selector("body.presenter")
    time.sleep(0.3)
    assert page.evaluate("document.documentElement.scrollHeight <= innerHeight")
    _inside(page, "#lab-status")
    if h >= 1080:
        small = page.evaluate("""() => [...document.querySelectorAll('.lab-bar *, .lab-layer h3, .lab-side label')]
            .filter((e) => e.offsetParent && e.textContent.trim() && parseFloat(getComputedStyle(e).fontSize) < 16)
            .map((e) => e.id || e.className || e.tagName)""")
        assert small == [], small
    page.screenshot(path=str(artifacts / f"lab-presenter-{w}x{h}.png"))
    assert page.problems == []


def test_live_camera_updates_per_second(page, live_server, artifacts):
    page.goto(live_server + "/lab?sample=chelsea")
    _ran(page)
    page.click("#lab-camera")
    page.wait_for_selector("#lab-webcam:not([hidden])", timeout=10_000)
    page.click("#lab-live")
    _until(page, "Number(document.body.dataset.liveUpdates) >= 3", 20)
    start = page.evaluate("[Number(document.body.dataset.liveUpdates), performance.now()]")
    time.sleep(5)
    end = page.evaluate("[Number(document.body.dataset.liveUpdates), performance.now()]")
    rate = (end[0] - start[0]) * 1000 / (end[1] - start[1])
    (artifacts / "lab-live-rate.txt").write_text(f"{rate:.2f} updates/s at 256 px, default preset\n")
    print(f"live camera: {rate:.2f} updates/s")
    page.click("#lab-live")
    assert rate >= 3, rate
    assert page.problems == []
