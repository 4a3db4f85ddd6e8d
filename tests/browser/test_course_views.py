"""/backprop, the effective-field-against-depth panel and /fully-convolutional in real Chromium: each loads
cleanly, draws the server's numbers, and its copy-as-PyTorch code runs and gives what the page shows."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from .helpers import download_json, open_view

pytestmark = pytest.mark.browser
CASES = [pytest.param("conv2d", "h=4&w=5&kernel_size=3&stride=2&padding=1&dilation=1", id="conv"),
         pytest.param("conv2d", "h=5&w=4&channels=4&out_channels=2&groups=2&kernel_size=2,3&stride=1,2&padding=1"
                      "&dilation=2", id="conv-groups"),
         pytest.param("max_pool2d", "h=6&w=6&kernel_size=2&stride=2&padding=0", id="max"),
         pytest.param("max_pool2d", "h=6&w=7&channels=2&kernel_size=3&stride=2&padding=1&dilation=2&ceil_mode=1",
                      id="max-dilated-ceil"),
         pytest.param("avg_pool2d", "h=5&w=5&kernel_size=3&stride=2&padding=1", id="avg"),
         pytest.param("avg_pool2d", "h=5&w=5&kernel_size=3&stride=2&padding=1&count_include_pad=0", id="avg-exclude-pad"),
         pytest.param("avg_pool2d", "h=5&w=6&kernel_size=3&stride=2&padding=1&divisor_override=4", id="avg-override")]


def _dense(cells: list[dict]) -> np.ndarray:
    out = np.zeros([max(c["at"][a] for c in cells) + 1 for a in range(4)])
    for c in cells:
        out[tuple(c["at"])] = c["value"]
    return out


@pytest.mark.parametrize(("op", "query"), CASES)
def test_backprop_loads_draws_and_its_pytorch_code_matches(page, live_server, artifacts, request, op, query):
    open_view(page, f"{live_server}/backprop?op={op}&{query}")
    assert page.get_attribute("body", "data-error") == ""
    params = dict(kv.split("=") for kv in query.split("&"))
    channels = int(params.get("channels", 1))
    assert page.locator("#g-x .grid").count() == channels == page.locator("#g-gi .grid").count()
    assert page.locator("#stage .grid canvas").count() >= 3
    assert int(page.get_attribute("#player", "data-frames")) >= 1
    assert " = " in page.inner_text("#sum")
    page.screenshot(path=str(artifacts / f"view-backprop-{request.node.callspec.id}.png"), full_page=True)
    trace = download_json(page)
    code = page.text_content("#pytorch-code").replace("print(", "print(json.dumps(").replace(".grad)", ".grad.tolist()))")
    run = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True,
                         timeout=120, check=True)
    printed = [json.loads(line) for line in run.stdout.strip().splitlines()]
    np.testing.assert_allclose(printed[0], _dense(trace["grad_input"]), atol=1e-12)
    if op == "conv2d":
        np.testing.assert_allclose(printed[1], _dense(trace["grad_weight"]), atol=1e-12)
        assert printed[2] == [c["value"] for c in trace["grad_bias"]]
        groups = int(params.get("groups", 1))
        assert trace["groups"] == groups and trace["weight_shape"][:2] == [int(params.get("out_channels", 1)),
                                                                          channels // groups]
        assert page.locator("#g-w .grid").count() == int(params.get("out_channels", 1)) * channels // groups
        assert page.locator("#gb p").count() == len(trace["grad_bias"])
    if op == "avg_pool2d":  # the divisor the page writes is the rule's (torch's), named under the sums
        divisors = {t["divisor"] for c in trace["grad_input"] for t in c["terms"]}
        if "divisor_override" in params:
            assert divisors == {4} and "divisor_override = 4" in page.inner_text("#rule")
        elif params.get("count_include_pad") == "0":
            assert divisors == {4, 6, 9} and "only the window's real cells" in page.inner_text("#rule")
        else:
            assert divisors == {9} and "padding included" in page.inner_text("#rule")
    frames = trace["grad_input"] + trace.get("grad_weight", [])
    assert int(page.get_attribute("#player", "data-frames")) == len(frames)
    for k in (0, len(frames) // 2, len(frames) - 1):  # the sum written out has every term of the cell
        _seek(page, k)
        assert_sum_written_out(page.inner_text("#sum"), frames[k])
    assert page.problems == [] and page.outside == []


def _seek(page, k: int) -> None:
    page.eval_on_selector("#player input[name=frame]",
                          "(el, k) => { el.value = String(k); el.dispatchEvent(new Event('input')); }", k)
    assert page.get_attribute("#player", "data-frame") == str(k)


def assert_sum_written_out(text: str, cell: dict) -> None:
    name = "grad_weight" if "input_value" in (cell["terms"] or [{}])[0] else "grad_input"
    head, _, rest = text.partition(" = ")
    assert head.endswith(f"[{', '.join(map(str, cell['at']))}]"), (text, cell["at"])
    if not cell["terms"]:
        assert rest.startswith("0 "), text
        return
    assert name in head
    written = rest.split(" · tie")[0].rsplit(" = ", 1)[0]
    assert written.count(" + ") == len(cell["terms"]) - 1, (text, len(cell["terms"]))


def test_backprop_max_pool_tie_goes_where_torchs_index_says(page, live_server):
    """Small-integer inputs tie often: torch routes each tied window's gradient to its first maximum
    (row-major), and the page says which cells tied."""
    open_view(page, f"{live_server}/backprop?op=max_pool2d&h=6&w=6&kernel_size=3&stride=1&padding=0&seed=3")
    trace = download_json(page)
    tied = [(k, c, t) for k, c in enumerate(trace["grad_input"]) for t in c["terms"] if "tied_with" in t]
    assert tied, "seed 3 gives tied windows"
    for _, cell, term in tied:
        assert len(term["tied_with"]) > 1 and cell["at"][2:] == term["tied_with"][0]
    k, cell, term = tied[0]
    _seek(page, k)
    text = page.inner_text("#sum")
    assert "tie in the window of grad_output" in text and "torch's index picks this cell" in text
    lit = {tuple(map(int, p.split(","))) for p in
           (page.get_attribute("#g-x .grid", "data-lit") or "").split(";") if p}
    assert {tuple(c) for c in term["tied_with"]} <= lit
    assert page.problems == [] and page.outside == []


def test_backprop_groups_that_do_not_divide_are_explained(page, live_server):
    open_view(page, f"{live_server}/backprop?op=conv2d&channels=3&out_channels=2&groups=2")
    assert "groups must divide both channels" in page.get_attribute("body", "data-error")
    assert page.problems == [] and page.outside == []


def test_erf_depth_panel_draws_the_servers_numbers(page, live_server, artifacts):
    open_view(page, f"{live_server}/receptive-field")
    page.wait_for_selector("#erf-depth[data-ready]", timeout=60_000)
    assert page.locator("#erf-depth-plot svg polyline").count() == 5
    rows = page.locator("#erf-depth-table tbody tr").all()
    assert len(rows) == 10
    for row in rows:  # the uniform stack's std equals the sqrt law (both from the server, shown side by side)
        cells = row.locator("td").all_inner_texts()
        assert cells[2] == cells[3]
    assert page.locator("#erf-compare-table tbody tr").count() == 4
    page.locator("#erf-depth").screenshot(path=str(artifacts / "panel-erf-depth.png"))
    assert page.problems == [] and page.outside == []


def test_fcn_page_steps_through_the_crops_and_its_pytorch_code_matches(page, live_server, artifacts):
    open_view(page, f"{live_server}/fully-convolutional?size=16&seed=3&cls=2")
    assert page.get_attribute("body", "data-error") == ""
    assert page.locator("#stage .grid canvas").count() >= 3
    data = download_json(page)
    n = data["map_shape"][2]
    assert int(page.get_attribute("#player", "data-frames")) == n * n == 9
    for k in range(n * n):  # each crop lights its 12×12 window and lands on its cell in both maps
        _seek(page, k)
        i, j = divmod(k, n)
        assert page.get_attribute("#g-slide .grid", "data-current") == f"{i},{j}"
        assert page.get_attribute("#g-map .grid", "data-current") == f"{i},{j}"
        crop = {tuple(map(int, p.split(","))) for p in page.get_attribute("#g-img .grid", "data-lit").split(";")}
        assert crop == {(2 * i + r, 2 * j + c) for r in range(12) for c in range(12)}
        assert f"crop ({i}, {j}): rows {2 * i}–{2 * i + 11}" in page.inner_text("#sum")
    code = page.text_content("#pytorch-code")
    code = code.replace("print(classifier(small), twin(small).flatten(1))  # equal",
                        "print(json.dumps(classifier(small)[0].tolist()))")
    code = code.replace("print(twin(big))  # the map of outputs", "print(json.dumps(twin(big)[0].tolist()))")
    code = code.replace("print(torch.stack([torch.stack(row, -1) for row in crops], -2))",
                        "print(json.dumps(torch.stack([torch.stack(row, -1) for row in crops], -2).tolist()))")
    run = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True,
                         timeout=120, check=True)
    logits, dense, slid = (json.loads(line) for line in run.stdout.strip().splitlines())
    np.testing.assert_allclose(logits, data["classifier_logits"], atol=1e-12)
    np.testing.assert_allclose(dense, data["map"], atol=1e-12)
    np.testing.assert_allclose(slid, data["sliding"], atol=1e-12)
    np.testing.assert_allclose(slid, dense, atol=1e-12)
    page.screenshot(path=str(artifacts / "view-fully-convolutional.png"), full_page=True)
    assert page.problems == [] and page.outside == []


@pytest.mark.parametrize(("dy", "dx", "stride"), [(2, -3, 2), (-4, 1, 3)])
def test_equivariance_steps_through_shifts_and_its_pytorch_code_matches(page, live_server, artifacts, dy, dx,
                                                                        stride):
    open_view(page, f"{live_server}/equivariance?dy={dy}&dx={dx}&stride={stride}&sample=checkerboard")
    assert page.get_attribute("body", "data-error") == ""
    for grid in ("diff", "stride", "pool", "rot", "scale"):
        assert page.locator(f"#g-{grid} canvas").count() >= 1, grid
    assert page.locator("#eq-table tbody tr").first.locator("td").nth(1).inner_text() == "0 (exact)"
    data = download_json(page)
    frames = data["frames"]
    assert int(page.get_attribute("#player", "data-frames")) == len(frames) == max(abs(dy), abs(dx)) + 1
    assert frames[0]["shift"] == [0, 0] and frames[-1]["shift"] == [dy, dx]
    for k, fr in enumerate(frames):
        _seek(page, k)
        text = page.inner_text("#sum")
        assert text.startswith(f"shift ({fr['shift'][0]}, {fr['shift'][1]}): conv interior error 0 (exact)")
        assert ("a multiple of the stride" in text) == fr["strided"]["multiple_of_stride"]
        assert fr["strided"]["multiple_of_stride"] == all(v % stride == 0 for v in fr["shift"])
    run = subprocess.run([sys.executable, "-c", page.text_content("#pytorch-code")], capture_output=True, text=True,
                         timeout=120, check=True)
    printed = [float(line) for line in run.stdout.strip().splitlines()]
    shown = [data["conv"]["interior_max_error"], data["conv"]["border_max_error"],
             *(s["interior_max_error"] for s in data["strided"]), data["max_pool"]["relative_change_1px"],
             data["rotation_90"]["interior_max_error"], data["scale_0_5"]["interior_max_error"]]
    np.testing.assert_allclose(printed, shown, rtol=1e-12, atol=1e-12)
    assert printed[0] == 0.0 and printed[1] > 0.0
    page.screenshot(path=str(artifacts / f"view-equivariance-{dy}-{dx}-{stride}.png"), full_page=True)
    assert page.problems == [] and page.outside == []


def test_equivariance_measures_an_uploaded_photo_and_keeps_it_in_the_link(page, live_server, tmp_path):
    from PIL import Image

    photo = tmp_path / "mine.png"
    Image.fromarray(np.random.default_rng(8).integers(0, 256, (80, 120, 3), dtype=np.uint8)).save(photo)
    open_view(page, f"{live_server}/equivariance?dy=1&dx=2&stride=2")
    page.set_input_files("#eq-file", str(photo))
    page.wait_for_function("() => new URLSearchParams(location.search).get('sample')?.startsWith('upload:')")
    page.wait_for_selector("body[data-ready='true'][data-error='']")
    page.wait_for_function("() => document.getElementById('pytorch-code').textContent.includes('your image')")
    assert page.locator("#eq-table tbody tr").first.locator("td").nth(1).inner_text() == "0 (exact)"
    link = page.url
    again = page.context.new_page()
    again.goto(link)
    again.wait_for_selector("body[data-ready='true']")
    assert again.input_value("select[name=sample]") == page.input_value("select[name=sample]")
    assert "your image" in again.text_content("#pytorch-code")
    assert page.problems == []
