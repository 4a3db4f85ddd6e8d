"""The image lab's layer editor in headless Chromium: its cards drawn from GET /api/v1/layers (every default the
server's), a residual block built by clicks and drawn, a link that brings the branched network back, and the probe
showing the parts of a field read through circular padding."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.browser.test_lab import _click_input_point, _until, browser  # noqa: F401  (the fake-camera browser)

pytestmark = pytest.mark.browser
WIRING = {"name", "input", "inputs"}


def _settled(page: Any, timeout: float = 30) -> None:
    """The latest edit's run has drawn its maps (or an error is shown, which the caller then reports)."""
    _until(page, "(document.body.dataset.stale === 'false' && document.body.dataset.ran === 'true') || "
                 "!document.getElementById('lab-error').hidden", timeout)
    assert page.locator("#lab-error").is_hidden(), page.inner_text("#lab-error")


def _apply(page: Any, layers: list[dict]) -> None:
    page.evaluate("""(text) => { document.getElementById('lab-json').value = text;
        document.getElementById('lab-json-apply').click(); }""", json.dumps(layers))
    _settled(page)


def _lab_fields(kind: dict) -> list[dict]:
    lab = {p["name"]: p for p in kind["lab"]}
    own = [p for p in kind["lab"] if p["name"] not in {q["name"] for q in kind["params"]}]
    return [p for p in [*own, *(lab.get(p["name"], p) for p in kind["params"])]
            if p["name"] not in WIRING and not (p.get("choices") and len(p["choices"]) == 1)]


def _network(kind: dict) -> list[dict]:
    if kind["op"] == "max_unpool2d":
        return [{"op": "max_pool2d"}, kind["lab_new"]]
    if kind["merge"]:
        return [{"op": "relu", "name": "a"}, {"op": "tanh", "name": "b", "input": "input"},
                {**kind["lab_new"], "inputs": ["a", "b"]}]
    return [kind["lab_new"]]


def _shown(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return v if isinstance(v, str) else json.dumps(v)


def test_the_add_menu_and_every_cards_defaults_are_the_servers(page, live_server, artifacts):
    kinds = httpx.get(live_server + "/api/v1/layers").json()["layers"]
    presets = httpx.get(live_server + "/api/v1/pipeline/presets").json()["presets"]
    page.goto(live_server + "/lab?sample=chelsea&side=64")
    _settled(page)
    assert [o for o in page.eval_on_selector_all("#lab-add option", "os => os.map(o => o.value)") if o] == \
        [k["op"] for k in kinds]
    assert page.eval_on_selector_all("#lab-preset option", "os => os.map(o => o.value)")[1:] == \
        [p["title"] for p in presets]
    assert json.loads(page.input_value("#lab-json")) == presets[0]["layers"]
    for kind in kinds:
        layers = _network(kind)
        _apply(page, layers)
        assert page.locator("#lab-error").is_hidden(), (kind["op"], page.inner_text("#lab-error"))
        i = len(layers) - 1
        card = page.locator(f".lab-card[data-layer='{i}']")
        given = set(layers[-1])
        checked = 0
        for p in _lab_fields(kind):
            if p["name"] in given:
                continue
            control = card.get_by_label(f"{p['name']} of layer {i}", exact=True)
            assert control.count() == 1, (kind["op"], p["name"])
            tag, kind_of = control.evaluate("c => [c.tagName, c.type]")
            if p["type"] == "kernel":
                assert control.input_value() == p["default"]
            elif p["name"] == "from":
                assert control.input_value() == ""  # the server's default: the latest pool
            elif p.get("choices"):
                assert control.input_value() == _shown(p["default"]), (kind["op"], p["name"])
            elif p["type"] == "bool":
                assert kind_of == "checkbox" and control.is_checked() == bool(p["default"]), (kind["op"], p["name"])
            else:
                assert tag == "INPUT" and control.input_value() == ""
                shown = control.get_attribute("placeholder")
                if isinstance(p["default"], (int, float)) and not isinstance(p["default"], bool):
                    assert float(shown) == p["default"], (kind["op"], p["name"], shown)  # JS writes 1e-5 as 0.00001
                else:
                    assert shown == _shown(p["default"]), (kind["op"], p["name"])
            checked += 1
        assert checked == len([p for p in _lab_fields(kind) if p["name"] not in given])
    page.screenshot(path=str(artifacts / "lab-editor-kinds.png"), full_page=True)
    assert page.problems == [] and page.outside == []


def _build_residual(page: Any) -> None:
    """conv → conv → add with the first, by clicks: remove the preset's layers, add from the menu, tick inputs."""
    for _ in range(page.locator(".lab-card").count()):
        page.click("[aria-label='remove layer 0']")
    for op in ("conv2d", "conv2d", "add"):
        page.select_option("#lab-add", op)
        _settled(page)
    # the add reads the layer before and the image; make it the first conv instead of the image
    page.get_by_label("layer 2 reads conv1", exact=True).check()
    _settled(page)
    page.get_by_label("layer 2 reads input", exact=True).uncheck()
    _settled(page)


def test_a_residual_block_built_by_clicks_draws_its_add_and_its_link_brings_it_back(page, live_server, artifacts):
    page.goto(live_server + "/lab?sample=chelsea&side=64")
    _settled(page)
    _build_residual(page)
    layers = json.loads(page.input_value("#lab-json"))
    assert [layer["op"] for layer in layers] == ["conv2d", "conv2d", "add"]
    assert sorted(layers[2]["inputs"]) == sorted([layers[0].get("name", "conv1"), layers[1].get("name", "conv2")])
    assert layers[0]["name"] == "conv1" and layers[1]["name"] == "conv2"
    add = page.locator(".lab-layer[data-entry='3']")
    assert add.locator("h3").inner_text().startswith("layer 2: add — 3×")
    assert add.locator("canvas").count() == 3
    # the add's maps are the sum of its inputs: its first channel, drawn, is not one flat colour
    spread = add.locator("canvas").first.evaluate("""c => { const d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let lo = 255, hi = 0;
        for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); } return hi - lo; }""")
    assert spread > 50
    r = httpx.post(live_server + "/api/v1/pipeline", json={"image": {"sample": "chelsea"}, "image_max_side": 64,
                                                           "layers": layers, "max_side": 64}).json()
    assert r["layers"][2]["inputs"] == layers[2]["inputs"]
    assert page.get_by_label("layer 2 reads conv1", exact=True).is_checked()
    page.screenshot(path=str(artifacts / "lab-editor-residual.png"), full_page=True)

    # the link: a fresh page opens the same branched network, drawn, with the same inputs ticked
    url = page.evaluate("location.href")
    assert "layers=" in url
    other = page.context.new_page()
    other.goto(url)
    _settled(other)
    assert json.loads(other.input_value("#lab-json")) == layers
    assert other.locator(".lab-layer").count() == 4
    assert other.locator(".lab-layer[data-entry='3'] h3").inner_text().startswith("layer 2: add — 3×")
    assert other.get_by_label("layer 2 reads conv1", exact=True).is_checked()
    assert not other.get_by_label("layer 2 reads input", exact=True).is_checked()
    other.close()
    assert page.problems == [] and page.outside == []


def test_a_branch_picks_its_input_from_a_select(page, live_server):
    layers = [{"op": "conv2d", "kernel": "sobel_x", "padding": 1}, {"op": "max_pool2d"}]
    page.goto(f"{live_server}/lab?sample=chelsea&side=64&layers={quote(json.dumps(layers))}")
    _settled(page)
    assert page.locator(".lab-layer[data-entry='2'] h3").inner_text().startswith("layer 1: max_pool2d — 3×")
    page.get_by_label("reads: layer 1's input").select_option(label="input")
    _settled(page)
    assert json.loads(page.input_value("#lab-json"))[1] == {"op": "max_pool2d", "input": "input"}
    assert page.problems == []


def test_the_probe_on_a_circular_padding_conv_shows_the_wrapped_parts(page, live_server, artifacts):
    layers = [{"op": "conv2d", "kernel": "box", "mode": "shared", "padding": 3, "dilation": 3,
               "padding_mode": "circular"}]
    page.goto(f"{live_server}/lab?sample=chelsea&side=64&layers={quote(json.dumps(layers))}")
    _settled(page)
    h, w = page.evaluate("[...document.querySelector('.lab-layer[data-entry=\"1\"] h3').textContent"
                         ".match(/×(\\d+)×(\\d+)/)].slice(1).map(Number)")
    conv = page.locator(".lab-layer[data-entry='1'] canvas").first
    _click_input_point(page, conv, 0.5, 0.5, (h, w))  # the corner unit (0, 0): its field wraps to the far edges
    page.wait_for_selector("body[data-probed='true']", timeout=20_000)
    body = {"image": {"sample": "chelsea"}, "image_max_side": 64, "layers": layers,
            "unit": {"layer": 1, "y": 0, "x": 0, "channel": 0}}
    probe = httpx.post(live_server + "/api/v1/pipeline/probe", json=body).json()
    wy, wx = probe["wrapped"]["y"], probe["wrapped"]["x"]
    assert wy and wx  # rows and columns at the far side
    text = page.inner_text("#lab-probe-text")
    assert "Read through the padding" in text
    assert f"rows {wy[0][0]} … {wy[0][1]}" in text and f"columns {wx[0][0]} … {wx[0][1]}" in text
    assert "batch_norm2d" not in text  # the effective field past the clipped box is the padding's doing
    # the dashed box of the far corner part is drawn on the image: reddish purple at its left edge
    image = page.locator(".lab-layer[data-entry='0'] canvas").first
    cw, ch = image.evaluate("c => [c.width, c.height]")
    x = round(wx[0][0] / w * cw) + 1
    ys = range(round(wy[0][0] / h * ch), min(ch, round(wy[0][1] / h * ch)))
    hits = image.evaluate("""(c, [x, ys]) => { const ctx = c.getContext('2d');
        return ys.filter((y) => { const [r, g, b] = ctx.getImageData(x, y, 1, 1).data;
          return r > 170 && g < 150 && b > 120; }).length; }""", [x, list(ys)])
    assert hits >= 2, hits
    page.screenshot(path=str(artifacts / "lab-probe-wrapped.png"), full_page=True)
    assert page.problems == [] and page.outside == []
