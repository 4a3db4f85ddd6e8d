"""The image lab with a model, in real headless Chromium: ResNet-18 from the catalogue (maps grouped by stage, folded
blocks that draw nothing until opened, the summary table and its CSV against POST /shapes and /receptive-field, a
probe through the model, a link that draws it again) and an ONNX model made by torch here, uploaded through the
page's file input."""
from __future__ import annotations

import csv
import json
import re
import time
import warnings
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.frames import read_frames

pytestmark = pytest.mark.browser


def _until(page: Any, expression: str, timeout: float = 60.0) -> None:
    """Poll a JS expression (page.evaluate is not bound by the page's CSP, wait_for_function is)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert page.locator("#lab-error").is_hidden(), page.inner_text("#lab-error")
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.1)


def _settled(page: Any, model: str) -> None:
    """The model's run has drawn its maps and its summary is in."""
    _until(page, f"document.body.dataset.model === {json.dumps(model)} && document.body.dataset.stale === 'false' && "
                 "document.body.dataset.ran === 'true' && document.body.dataset.summary === 'ready'")


def _pair(v: list) -> str:
    def num(x: float) -> str:
        return str(int(x)) if float(x) == int(x) else f"{x:g}"
    return num(v[0]) if v[0] == v[1] else f"{num(v[0])}, {num(v[1])}"


def _summary_rows(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all("#lab-summary-table tbody tr",
                                     "trs => trs.map((tr) => [...tr.children].map((td) => td.textContent))")


def _check_summary(page: Any, live_server: str, network: dict) -> tuple[dict, dict]:
    """Every row is the server's: /shapes' name, op, shape, params and MACs, /receptive-field's r and j."""
    shapes = httpx.post(f"{live_server}/api/v1/shapes", json=network).json()
    rf = {e["name"]: e for e in httpx.post(f"{live_server}/api/v1/receptive-field", json=network).json()["layers"]}
    rows = _summary_rows(page)
    assert len(rows) == len(shapes["layers"]) == len(network["layers"])
    for k, (row, s) in enumerate(zip(rows, shapes["layers"])):
        f = rf[s["name"]]
        assert row == [str(k), s["name"], s["op"], "×".join(map(str, s["output_shape"])), f"{s['params']:,}",
                       f"{s['macs']:,}", _pair(f["r"]), _pair(f["j"])], row
    assert page.inner_text("#lab-summary-table .lab-total-params") == f"{shapes['total_params']:,}"
    return shapes, rf


def _stage_of(name: str, names: list[str]) -> str:
    """ResNet's stages by module path: the leading top-level layers are the stem, the trailing ones the head."""
    if "." in name:
        return name.split(".")[0]
    return "stem" if names.index(name) < next(i for i, n in enumerate(names) if "." in n) else "head"


def test_resnet18_in_the_lab_grouped_summarised_probed_and_linked(page, live_server, artifacts):
    network = httpx.get(f"{live_server}/api/v1/models/resnet18").json()["network"]
    names = [layer["name"] for layer in network["layers"]]
    page.goto(f"{live_server}/lab?sample=chelsea&side=128")
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    page.wait_for_selector("#lab-model option[value=resnet18]", state="attached")
    assert page.is_visible("#lab-preset") and page.is_hidden("#lab-model-box")
    page.select_option("#lab-model", "resnet18")
    _settled(page, "resnet18")
    assert parse_qs(urlparse(page.url).query)["model"] == ["resnet18"]
    # the editor is put away; the model's layers are listed as the server ran them
    assert page.is_hidden("#lab-editor-box") and page.is_visible("#lab-model-box")
    assert page.eval_on_selector_all("#lab-model-layers li", "ls => ls.map((l) => l.textContent)") == \
        [f"{layer['name']} · {layer['op']}" for layer in network["layers"]]
    assert "seeded random weights" in page.inner_text("#lab-model-about")
    # the work side is the model's own: the select is off, with a sentence saying why
    assert page.is_disabled("#lab-side") and page.is_visible("#lab-side-note")
    page.screenshot(path=str(artifacts / "lab-resnet18.png"), full_page=False)
    # grouped by stage; a section per layer, each in its stage
    stages = page.eval_on_selector_all("#lab-maps > details.lab-stage", "ds => ds.map((d) => d.dataset.stage)")
    assert stages == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    placed = page.eval_on_selector_all("#lab-maps .lab-layer", """ss => ss.map((s) => [Number(s.dataset.entry),
        s.closest('details.lab-stage') ? s.closest('details.lab-stage').dataset.stage : null])""")
    assert placed == [[0, None]] + [[k + 1, _stage_of(n, names)] for k, n in enumerate(names)]
    for k, name in enumerate(names):
        assert page.text_content(f".lab-layer[data-entry='{k + 1}'] h3").startswith(f"{k}: {name} (")
    # the first block of a stage is open and drawn; the others folded, with no canvas until opened
    blocks = page.eval_on_selector_all("details.lab-block", "ds => ds.map((d) => [d.dataset.block, d.open])")
    assert [b for b, _ in blocks] == [f"layer{s}.{i}" for s in range(1, 5) for i in range(2)]
    assert all(is_open == block.endswith(".0") for block, is_open in blocks)
    folded = page.locator("details.lab-block[data-block='layer3.1']")
    assert folded.locator("canvas").count() == 0
    assert folded.locator(".lab-layer[data-drawn='false']").count() == \
        sum(n.startswith("layer3.1.") for n in names)
    assert page.locator("details.lab-block[data-block='layer3.0'] canvas").count() == \
        8 * sum(n.startswith("layer3.0.") for n in names)  # the first 8 of 256 channels of each layer
    drawn = page.locator("#lab-maps canvas").count()
    folded.locator("summary").click()
    _until(page, "document.querySelectorAll(\"details[data-block='layer3.1'] .lab-layer[data-drawn='false']\").length === 0", 10)
    assert folded.locator("canvas").count() == 8 * sum(n.startswith("layer3.1.") for n in names)
    assert page.locator("#lab-maps canvas").count() > drawn
    folded.locator("summary").click()
    assert folded.evaluate("d => d.open") is False and folded.locator("canvas").first.is_hidden()
    # all channels on request
    conv1 = page.locator(".lab-layer[data-entry='1']")
    conv1.locator("button.lab-more").click()
    assert conv1.locator("canvas").count() == 64
    # the summary: /shapes and /receptive-field joined by name, the server's total
    assert page.inner_text("#lab-summary-table .lab-total-params") == "11,689,512"
    shapes, rf = _check_summary(page, live_server, network)
    assert shapes["total_params"] == 11_689_512
    page.locator("#lab-summary-table tfoot").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "lab-resnet18-summary.png"), full_page=False)
    # the CSV: one line per layer, the same numbers
    with page.expect_download() as info:
        page.click("#lab-summary-csv")
    assert info.value.suggested_filename == "convscope-lab-summary-resnet18.csv"
    with open(info.value.path(), encoding="utf-8", newline="") as f:
        lines = list(csv.DictReader(f))
    assert [line["name"] for line in lines] == names
    for line, s in zip(lines, shapes["layers"]):
        e = rf[s["name"]]
        assert (line["op"], int(line["params"]), int(line["macs"])) == (s["op"], s["params"], s["macs"])
        assert line["output_shape"] == "x".join(map(str, s["output_shape"]))
        assert [float(line["r_h"]), float(line["r_w"]), float(line["j_h"]), float(line["j_w"])] == [*e["r"], *e["j"]]
    # a click on a unit of layer1.0.conv1 probes it through the model
    k = names.index("layer1.0.conv1")
    bodies: list[dict] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.url.endswith("/pipeline/probe") else None)
    canvas = page.locator(f".lab-layer[data-entry='{k + 1}'] canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("body[data-probed='true']", timeout=60_000)
    assert bodies and bodies[-1]["model"] == {"id": "resnet18"} and "layers" not in bodies[-1]
    assert "image_max_side" not in bodies[-1]
    answer = httpx.post(f"{live_server}/api/v1/pipeline/probe", json=bodies[-1], timeout=120).json()
    u = answer["unit"]
    assert u["name"] == "layer1.0.conv1"
    text = page.inner_text("#lab-probe-text")
    assert f"layer {k} (layer1.0.conv1), channel 0, unit ({u['y']}, {u['x']})" in text
    assert re.search(r"= (\S+), centred", text).group(1) == f"{u['value']:.7g}" or u["value"] == 0
    # hover names the model's layer; presenter mode draws the model again, grouped, at its size
    canvas.hover()
    page.wait_for_selector(f"#lab-hover:has-text('layer {k} (conv2d) ch 0')", timeout=5_000)
    runs = int(page.evaluate("() => document.body.dataset.runs"))
    page.keyboard.press("Escape")
    page.locator("body").press("p")
    _until(page, f"Number(document.body.dataset.runs) > {runs} && document.body.dataset.ran === 'true'")
    assert page.evaluate("() => document.body.classList.contains('presenter')")
    assert page.locator("#lab-maps > details.lab-stage").count() == 6 and page.is_hidden(".lab-summary-panel")
    page.locator("body").press("p")
    _until(page, f"Number(document.body.dataset.runs) > {runs + 1} && document.body.dataset.ran === 'true'")
    # the sweep steps a model's layer too
    page.select_option("#lab-sweep-layer", str(k + 1))
    assert page.locator(f"#lab-sweep-layer option[value='{k + 1}']").inner_text() == f"{k}: {names[k]} (conv2d)"
    assert page.inner_text("#lab-sweep-in-cap").startswith(f"input of layer {k}: 56×56, padding 1/1")
    # the link alone draws the model's maps on open
    page.goto(f"{live_server}/lab?sample=chelsea&side=128&model=resnet18")
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    _settled(page, "resnet18")
    assert page.input_value("#lab-model") == "resnet18" and page.is_hidden("#lab-editor-box")
    assert page.locator(".lab-layer[data-entry='1'] canvas").count() == 8
    assert page.locator(".lab-layer").count() == len(names) + 1
    assert page.inner_text("#lab-summary-table .lab-total-params") == "11,689,512"
    # back to the editor's layers: the editor and its maps return, the link forgets the model
    page.select_option("#lab-model", "")
    _until(page, "document.body.dataset.model === '' && document.body.dataset.stale === 'false' && "
                 "document.body.dataset.ran === 'true'")
    assert page.is_visible("#lab-preset") and "model" not in parse_qs(urlparse(page.url).query)
    assert page.is_enabled("#lab-side") and page.is_hidden("#lab-side-note")
    assert page.locator("#lab-maps details").count() == 0
    assert page.problems == [] and page.outside == []


def test_an_onnx_model_uploaded_in_the_lab(page, live_server, tmp_path, artifacts):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.conv2(torch.relu(self.conv1(x))) + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.block1 = Residual()
            self.block2 = Residual()
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            return self.pool(self.block2(self.block1(torch.relu(self.stem(x)))))

    path = tmp_path / "residual.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its own deprecation
        torch.onnx.export(Net().eval(), torch.zeros(1, 3, 48, 48), str(path), dynamo=False, opset_version=17)
    page.goto(f"{live_server}/lab?sample=chelsea&side=64")
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    page.set_input_files("#lab-model-file", str(path))
    _until(page, "/^[0-9a-f]{64}$/.test(document.body.dataset.model || '')")
    model_id = page.evaluate("() => document.body.dataset.model")
    _settled(page, model_id)
    assert parse_qs(urlparse(page.url).query)["model"] == [model_id]
    assert "residual.onnx" in page.inner_text("#lab-model-note")
    network = httpx.get(f"{live_server}/api/v1/models/{model_id}").json()["network"]
    names = [layer["name"] for layer in network["layers"]]
    assert "add" in [layer["op"] for layer in network["layers"]]
    # a section per layer, its maps drawn unless its block is folded, the input the model's 3×48×48
    assert page.locator(".lab-layer").count() == len(names) + 1
    assert page.inner_text(".lab-layer[data-entry='0'] h3").endswith("3×48×48")
    for k, name in enumerate(names):
        row = page.locator(f".lab-layer[data-entry='{k + 1}']")
        assert row.locator("h3").text_content().startswith(f"{k}: {name} (")
        if row.get_attribute("data-drawn") != "false":
            assert row.locator("canvas").count() >= 1
    assert page.locator(".lab-layer[data-entry='1'] canvas").count() == 8  # 8 channels
    # the summary lists its layers with the server's numbers, the residual add among them
    shapes, _ = _check_summary(page, live_server, network)
    assert any(row[2] == "add" for row in _summary_rows(page))
    assert shapes["total_params"] == sum(p.numel() for p in Net().parameters())
    page.screenshot(path=str(artifacts / "lab-onnx.png"), full_page=False)
    assert page.problems == [] and page.outside == []


def test_resnet50_stays_light_and_says_why_its_units_cannot_be_probed(page, live_server):
    network = httpx.get(f"{live_server}/api/v1/models/resnet50").json()["network"]
    names = [layer["name"] for layer in network["layers"]]
    page.goto(f"{live_server}/lab?sample=chelsea&model=resnet50")
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    _settled(page, "resnet50")
    blocks = page.eval_on_selector_all("details.lab-stage[data-stage='layer3'] details.lab-block",
                                       "ds => ds.map((d) => [d.dataset.block, d.open])")
    assert blocks == [[f"layer3.{i}", i == 0] for i in range(6)]
    # only the open blocks' layers are drawn, 8 channels each (the input: RGB and its 3 channels)
    drawn = page.eval_on_selector_all(".lab-layer[data-drawn='true']", "ss => ss.map((s) => Number(s.dataset.entry))")
    assert drawn == [0] + [k + 1 for k, n in enumerate(names) if "." not in n or n.split(".")[1] == "0"]
    shapes = httpx.post(f"{live_server}/api/v1/shapes", json=network).json()
    maps = [s["output_shape"][0] if len(s["output_shape"]) == 3 else 1 for s in shapes["layers"]]
    assert page.locator("#lab-maps canvas").count() == 4 + sum(min(8, maps[e - 1]) for e in drawn[1:]) < 500
    assert page.inner_text("#lab-summary-table .lab-total-params") == f"{shapes['total_params']:,}"
    # its maps keep every value for autograd past this server's cap: the probe says so, and the page goes on
    canvas = page.locator(".lab-layer[data-entry='8'] canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#lab-error:not([hidden])", timeout=60_000)
    assert "its units cannot be probed on this server" in page.inner_text("#lab-error")
    assert page.is_hidden("#lab-probe")
    page.problems[:] = [p for p in page.problems if "413" not in p]  # the refusal is the point
    assert page.problems == [] and page.outside == []


def test_the_summary_of_the_editors_layers_and_an_upload_the_server_no_longer_holds(page, live_server):
    page.goto(f"{live_server}/lab?sample=chelsea&side=64")
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    _settled(page, "")
    layers = json.loads(page.input_value("#lab-json"))
    # the network the pipeline ran, in the registry's form (its start frame), is what the summary describes
    r = httpx.post(f"{live_server}/api/v1/pipeline", json={"image": {"sample": "chelsea"}, "image_max_side": 64,
                                                            "layers": layers, "transport": "stream"})
    network = next(read_frames([r.content]))[0]["network"]
    shapes, _ = _check_summary(page, live_server, network)
    assert [row[2] for row in _summary_rows(page)] == [layer["op"] for layer in layers]
    with page.expect_download() as info:
        page.click("#lab-summary-csv")
    with open(info.value.path(), encoding="utf-8", newline="") as f:
        assert [int(line["params"]) for line in csv.DictReader(f)] == [s["params"] for s in shapes["layers"]]
    # an uploaded model's id that the server no longer holds, with no file to upload again: a sentence says so
    page.goto(f"{live_server}/lab?sample=chelsea&model={'0' * 64}")
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    page.wait_for_selector("#lab-error:not([hidden])", timeout=30_000)
    assert "choose its ONNX file again" in page.inner_text("#lab-error")
    assert "Upload the ONNX file again" in page.inner_text("#lab-model-note")
    page.problems[:] = [p for p in page.problems if "/api/v1/" not in p or "404" not in p]  # the 404s are the point
    assert page.problems == [] and page.outside == []
