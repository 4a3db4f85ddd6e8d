"""/receptive-field with networks in real Chromium: a residual block built in the editor, a catalogue ResNet-18
with torchvision's layer names, the CSV download, and an ONNX model exported by torch and uploaded through the
page. Every number the page shows is compared with the API's own answer."""
from __future__ import annotations

import csv
import json
import time
import warnings
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from .helpers import cell_point, open_view

pytestmark = pytest.mark.browser


def pair(v: list) -> str:
    """The table's way of writing a per-axis pair: one number where height and width agree."""
    def num(x):
        return str(int(x)) if float(x) == int(x) else f"{x:g}"
    return num(v[0]) if v[0] == v[1] else f"{num(v[0])}, {num(v[1])}"


def table_rows(page) -> list[dict]:
    """Every layer row of the per-layer table (folded ones too), as the user reads its cells."""
    cells = page.eval_on_selector_all(
        "#rf-table tbody tr.layer", "rows => rows.map(r => [...r.children].map(td => td.textContent))")
    keys = ["k", "name", "op", "n", "j", "r", "start", "reads", "shape", "params", "macs"]
    return [dict(zip(keys, c)) for c in cells]


def stack_in_url(page) -> list:
    return json.loads(parse_qs(urlparse(page.url).query)["stack"][0])


def until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll a JS expression (page.evaluate is not bound by the page's CSP, wait_for_function is)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.1)


def wait_table(page, rows: int) -> None:
    until(page, f"document.querySelectorAll('#rf-table tbody tr.layer').length === {rows} && "
                "document.querySelector('#controls').getAttribute('aria-busy') === null")


def field_on(page, selector: str) -> tuple[int, int, int, int]:
    text = page.get_attribute(selector, "data-field")
    return tuple(int(v) for v in text.split(","))


def test_a_residual_block_built_in_the_editor(page, live_server, artifacts):
    open_view(page, f"{live_server}/receptive-field?preset=custom&h=12&w=12&c=1&effective=1&stack=[]")
    assert "empty" in page.get_attribute("body", "data-error")
    page.click("#add-layer")
    wait_table(page, 2)
    page.click("#add-layer")
    wait_table(page, 3)
    page.click("#add-merge")  # add: the last layer and the network's input, a residual block
    wait_table(page, 4)
    assert page.get_attribute("body", "data-error") == ""
    network = stack_in_url(page)
    assert [layer["op"] for layer in network] == ["conv2d", "conv2d", "add"]
    assert network[2]["inputs"] == [network[1]["name"], "input"]
    api = httpx.post(f"{live_server}/api/v1/receptive-field", json={"input_shape": [1, 12, 12], "layers": network}).json()
    rows = table_rows(page)
    assert [r["name"] for r in rows] == [e["name"] for e in api["layers"]]
    assert [r["r"] for r in rows] == [pair(e["r"]) for e in api["layers"]] == ["1", "3", "5", "5"]
    assert rows[3]["reads"] == f"{network[1]['name']} + input"
    # The second conv reads the input instead: two parallel branches, whose merged field is their envelope (3).
    page.select_option("#stack-rows tr[data-layer='2'] select[aria-label='layer 2 reads']", label="input")
    until(page, "document.querySelector('#rf-table tbody tr.layer:nth-child(4) td:nth-child(6)').textContent === '3'")
    assert stack_in_url(page)[1]["input"] == "input"
    assert table_rows(page)[3]["r"] == "3"
    # back to the chain, and a unit of the merge picked on its grid: its field drawn on every level
    page.select_option("#stack-rows tr[data-layer='2'] select[aria-label='layer 2 reads']", index=0)
    until(page, "document.querySelector('#rf-table tbody tr.layer:nth-child(4) td:nth-child(6)').textContent === '5'")
    page.mouse.click(*cell_point(page, "#levels .grid >> nth=0", 2, 3))
    page.wait_for_selector("#sum:has-text('unit (2, 3) of add')")
    network = stack_in_url(page)
    unit = httpx.post(f"{live_server}/api/v1/receptive-field", json={
        "input_shape": [1, 12, 12], "layers": network, "unit": {"layer": 3, "y": 2, "x": 3}}).json()
    c = unit["clipped"]
    assert page.locator("#levels .grid").count() == 4  # add, conv2, conv1, the input
    assert field_on(page, "#levels .grid >> nth=-1") == (c["y0"], c["y1"], c["x0"], c["x1"]) == (0, 5, 1, 6)
    assert field_on(page, "#levels .grid >> nth=1") == (2, 3, 3, 4)  # in conv2's units: the unit itself
    assert field_on(page, "#levels .grid >> nth=2") == (1, 4, 2, 5)  # in conv1's units: conv2's 3×3 window
    assert "pixels reach it" in page.inner_text("#sum")
    # through each path: the convolutions' 5×5 and the shortcut's one pixel, whose envelope is the field
    paths = [tuple(int(v) for v in box.split(",")) for box in page.get_attribute("#levels .grid >> nth=-1", "data-paths").split(";")]
    assert paths == [(0, 5, 1, 6), (2, 3, 3, 4)]
    assert f"via {network[1]['name']}: r = 5" in page.inner_text("#paths") and "via input: r = 1" in page.inner_text("#paths")
    page.screenshot(path=str(artifacts / "receptive-residual-block.png"), full_page=True)
    assert page.problems == [] and page.outside == []


def test_resnet18_from_the_catalogue_and_its_csv(page, live_server, artifacts):
    open_view(page, f"{live_server}/receptive-field?effective=0")
    page.wait_for_selector("select[name=model] option[value=resnet18]", state="attached")
    page.select_option("select[name=model]", "resnet18")
    model = httpx.get(f"{live_server}/api/v1/models/resnet18").json()["network"]
    wait_table(page, len(model["layers"]) + 1)
    assert page.get_attribute("body", "data-error") == ""
    assert parse_qs(urlparse(page.url).query)["model"] == ["resnet18"]
    assert page.input_value("input[name=h]") == "224" and page.input_value("input[name=c]") == "3"
    api = httpx.post(f"{live_server}/api/v1/receptive-field", json=model).json()["layers"]
    shapes = httpx.post(f"{live_server}/api/v1/shapes", json=model).json()["layers"]
    rows = table_rows(page)
    assert [r["name"] for r in rows] == [e["name"] for e in api]
    assert "layer4.1.conv2" in [r["name"] for r in rows]
    assert [(r["r"], r["j"], r["start"]) for r in rows] == [(pair(e["r"]), pair(e["j"]), pair(e["start"])) for e in api]
    assert [r["params"] for r in rows[1:]] == [f"{s['params']:,}" for s in shapes]
    # the blocks start folded (69 layers): the stage rows show, a block unfolds on a click
    conv = page.locator("#rf-table tr.layer[data-name='layer4.1.conv2']")
    assert not conv.is_visible()
    assert page.locator("#rf-table tr.group[data-group='layer4']").is_visible()
    page.click("#rf-table button.fold[data-group='layer4.1']")
    assert conv.is_visible()
    # a row clicked: the centre unit of layer4.1.conv2, its field on the input is the API's
    conv.click()
    page.wait_for_selector("#sum:has-text('of layer4.1.conv2')")
    k = int(conv.get_attribute("data-k"))
    n = api[k]["n"]
    unit = httpx.post(f"{live_server}/api/v1/receptive-field", json={
        **model, "unit": {"layer": k, "y": n[0] // 2, "x": n[1] // 2}}).json()
    c = unit["clipped"]
    assert field_on(page, "#levels .grid >> nth=-1") == (c["y0"], c["y1"], c["x0"], c["x1"])
    page.screenshot(path=str(artifacts / "receptive-resnet18.png"), full_page=True)
    # the CSV holds what the table shows, and the server's numbers
    with page.expect_download() as info:
        page.click("#export-csv")
    with open(info.value.path(), encoding="utf-8", newline="") as f:
        lines = list(csv.DictReader(f))
    rows = table_rows(page)
    assert [line["name"] for line in lines] == [r["name"] for r in rows]
    for line, row, e in zip(lines, rows, api):
        for axis in ("n", "j", "r", "start"):
            assert pair([float(line[f"{axis}_h"]), float(line[f"{axis}_w"])]) == row[axis]
        assert [float(line["r_h"]), float(line["r_w"])] == e["r"]
    for line, row, s in zip(lines[1:], rows[1:], shapes):
        assert f"{int(line['params']):,}" == row["params"] and int(line["params"]) == s["params"]
        assert f"{int(line['macs']):,}" == row["macs"] and int(line["macs"]) == s["macs"]
        assert line["output_shape"].split("x") == row["shape"].split("×") == [str(v) for v in s["output_shape"]]
    assert page.problems == [] and page.outside == []


def test_an_onnx_model_uploaded_through_the_page(page, live_server, tmp_path, artifacts):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.conv = nn.Conv2d(8, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            y = torch.relu(self.stem(x))
            return self.pool(torch.relu(self.bn(self.conv(y)) + y))

    model = Block().eval()
    path = tmp_path / "student.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its own deprecation
        torch.onnx.export(model, torch.zeros(1, 3, 32, 32), str(path), dynamo=False, opset_version=17)
    open_view(page, f"{live_server}/receptive-field")
    page.set_input_files("#model-file", str(path))
    until(page, "/[?&]model=[0-9a-f]{64}/.test(location.search)")
    model_id = parse_qs(urlparse(page.url).query)["model"][0]
    network = httpx.get(f"{live_server}/api/v1/models/{model_id}").json()["network"]
    wait_table(page, len(network["layers"]) + 1)
    assert page.get_attribute("body", "data-error") == ""
    assert "student.onnx" in page.inner_text("#model-note")
    api = httpx.post(f"{live_server}/api/v1/receptive-field", json=network).json()["layers"]
    rows = table_rows(page)
    assert [r["name"] for r in rows] == [e["name"] for e in api]
    assert [r["r"] for r in rows] == [pair(e["r"]) for e in api]
    assert any(r["op"] == "add" for r in rows)
    assert page.locator("#levels .grid").count() >= 2
    page.screenshot(path=str(artifacts / "receptive-onnx.png"), full_page=True)
    # the link keeps the uploaded id: opened again, the page asks the server for that model
    open_view(page, page.url)
    wait_table(page, len(network["layers"]) + 1)
    assert page.get_attribute("body", "data-error") == ""
    assert [r["name"] for r in table_rows(page)] == [e["name"] for e in api]
    assert page.problems == [] and page.outside == []


def test_an_uploaded_model_the_server_let_go_asks_for_the_file(page, live_server, tmp_path):
    page.goto(f"{live_server}/receptive-field?model={'0' * 64}")
    page.wait_for_selector("body[data-ready='true']")
    assert "choose its ONNX file again" in page.get_attribute("body", "data-error")
    assert "Upload the ONNX file again" in page.inner_text("#model-note")
    # a file that is no ONNX model: the server's sentence beside the upload, and the page keeps working
    bogus = tmp_path / "notes.onnx"
    bogus.write_bytes(b"these are my lecture notes, not a model")
    page.set_input_files("#model-file", str(bogus))
    page.wait_for_selector("#model-note.error:not(:has-text('Upload the ONNX file again'))")
    answer = httpx.post(f"{live_server}/api/v1/models", files={"file": ("notes.onnx", bogus.read_bytes())})
    assert 400 <= answer.status_code < 500
    assert page.inner_text("#model-note") == answer.json()["error"]
    page.problems[:] = [p for p in page.problems if "/api/v1/models" not in p]  # the refusals are the point
    assert page.problems == [] and page.outside == []


def test_a_small_catalogue_model_edited_as_a_copy(page, live_server):
    open_view(page, f"{live_server}/receptive-field?model=fcn&effective=0")
    network = httpx.get(f"{live_server}/api/v1/models/fcn").json()["network"]
    wait_table(page, len(network["layers"]) + 1)
    names = [r["name"] for r in table_rows(page)]
    assert names[1:] == [layer["name"] for layer in network["layers"]]
    assert page.locator("#add-layer").is_disabled()  # a model is shown read-only
    page.click("#edit-copy")
    until(page, "new URLSearchParams(location.search).get('model') === '' && "
                "document.querySelectorAll('#stack-rows tr[data-layer]').length > 0")
    wait_table(page, len(network["layers"]) + 1)
    assert stack_in_url(page) == network["layers"]
    assert [r["name"] for r in table_rows(page)] == names
    assert page.locator("#add-layer").is_enabled()
    assert page.problems == [] and page.outside == []
