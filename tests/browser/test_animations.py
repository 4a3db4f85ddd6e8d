"""Animations that build up: the transposed convolution's scatter shows its running sums step by step, and
every panel of /pool follows the pool's frame."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from .helpers import download_json, open_view

pytestmark = pytest.mark.browser


def veiled(page, selector):
    return int(page.get_attribute(f"{selector} .grid", "data-veiled") or 0)


@pytest.mark.parametrize("frame", [0, 4, 8])
def test_transpose_scatter_builds_the_running_sum(page, live_server, frame):
    open_view(page, f"{live_server}/transpose?h=3&w=3&k=3&stride=2&padding=0&seed=2&frame={frame}")
    assert page.get_attribute("#player", "data-frame") == str(frame)
    data = download_json(page)
    req = data["request"]
    x, w = torch.tensor(req["input"], dtype=torch.float64), torch.tensor(req["weight"], dtype=torch.float64)
    mask = (torch.arange(x.numel()) <= frame).double().reshape(x.shape)  # inputs stamped so far, row-major
    partial = F.conv_transpose2d(x * mask, w, stride=req["stride"], padding=req["padding"],
                                 output_padding=req["output_padding"], dilation=req["dilation"])[0, 0]
    stamps = re.findall(r"\((\d+), (\d+)\) \+= [^,→]+ → (-?[\d.e+-]+)", page.inner_text("#sum"))
    assert stamps, page.inner_text("#sum")
    for oy, ox, shown in stamps:
        assert float(shown) == pytest.approx(float(partial[int(oy), int(ox)]), abs=0.01)
    # the server's own running sum agrees, and the cells no stamp has reached yet are faded
    cells = data["conv_transpose2d"]["cells"]
    for cell in cells:
        reached = [v for t, v in cell["scatter"] if t <= frame]
        if reached:
            assert reached[-1] == pytest.approx(float(partial[cell["out"][2], cell["out"][3]]))
    unreached = sum(1 for cell in cells if not any(t <= frame for t, _ in cell["scatter"]))
    assert veiled(page, "#g-y") == unreached
    if frame < x.numel() - 1:  # not the final values yet: some cells are missing or short of their sum
        assert unreached > 0 and any(float(partial[c["out"][2], c["out"][3]]) != c["value"] for c in cells)
    assert page.problems == []


def test_transpose_last_step_is_the_whole_output(page, live_server):
    open_view(page, f"{live_server}/transpose?h=3&w=3&k=3&stride=2&seed=2&frame=8")
    assert veiled(page, "#g-y") == 0
    page.locator("#player input[name=frame]").fill("0")
    assert veiled(page, "#g-y") > 0


def test_pool_panels_follow_the_pool(page, live_server):
    open_view(page, f"{live_server}/pool?frame=0")  # the lecture's 4×4, kernel 2: 4 windows
    # frame 0: only the first window is pooled; what the other three feed is faded
    assert veiled(page, "#g-max") == 3
    assert veiled(page, "#g-unpool") == 3  # the maxima of windows 1-3 are not put back yet (zeros stay)
    assert veiled(page, "#g-near") == 12  # nearest ×2 copies each pooled cell into 4
    assert veiled(page, "#g-bil0") > 0 and veiled(page, "#g-bil1") > 0
    page.keyboard.press("ArrowRight")
    assert veiled(page, "#g-unpool") == 2 and veiled(page, "#g-near") == 8
    page.locator("#player input[name=frame]").fill("3")
    for panel in ["#g-max", "#g-unpool", "#g-near", "#g-bil0", "#g-bil1"]:
        assert veiled(page, panel) == 0, panel
    assert page.problems == []
