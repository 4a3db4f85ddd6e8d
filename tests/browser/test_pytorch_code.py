""""Copy as PyTorch" on every animator page: the code shown in #pytorch-code is self-contained (the page's own
numbers are in it), runs in this test's torch, and gives the numbers the page draws (its downloaded trace)."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

from .helpers import download_json, open_view

pytestmark = pytest.mark.browser


def run_page_code(page: Any) -> dict[str, Any]:
    code = page.text_content("#pytorch-code")
    assert code.startswith("import torch")
    scope: dict[str, Any] = {}
    exec(compile(code, "<page code>", "exec"), scope)  # noqa: S102 - the page's own code, run in the test
    return scope


def dense(trace: dict[str, Any]) -> np.ndarray:
    """A trace's output values, placed by each cell's index."""
    out = np.full(trace["output_shape"], np.nan)
    for cell in trace["cells"]:
        out[tuple(cell["out"])] = cell["value"]
    return out


@pytest.mark.parametrize("query", ["h=4&w=5&stride=2&padding=1&output_padding=1&seed=3",
                                   "h=3&w=3&k=2,3&stride=1,2&dilation=2&seed=5"])
def test_transpose_code_gives_the_scatter_and_the_direct_convolution(page, live_server, query):
    open_view(page, f"{live_server}/transpose?{query}")
    scope = run_page_code(page)
    data = download_json(page)
    np.testing.assert_allclose(scope["y"].numpy(), dense(data["conv_transpose2d"]), rtol=1e-12)
    np.testing.assert_allclose(scope["y2"].numpy(), dense(data["direct"]), rtol=1e-12)
    assert page.problems == []


@pytest.mark.parametrize("query", ["", "input=random&h=5&w=6&kernel_size=3&stride=2&padding=1&ceil_mode=1"
                                       "&count_include_pad=0&scale=1.5&seed=4"])
def test_pool_code_gives_every_panel(page, live_server, query):
    open_view(page, f"{live_server}/pool?{query}")
    scope = run_page_code(page)
    data = download_json(page)
    panels = {"max": "y", "avg": "a", "unpool": "u", "near": "near", "bil0": "bil0", "bil1": "bil1"}
    for panel, name in panels.items():
        np.testing.assert_allclose(scope[name].numpy(), dense(data[panel]), rtol=1e-12, err_msg=panel)
    assert page.problems == []


@pytest.mark.parametrize("query", ["h=4&w=5&padding=1&stride=1&seed=7",
                                   "h=5&w=5&c=2&kh=2&kw=3&padding=same&padding_mode=reflect&dilation=2&seed=1",
                                   "h=6&w=5&padding=same&padding_mode=circular&flip=1&seed=2",
                                   "h=6&w=6&stride=2&padding=valid&seed=3"])
def test_matrices_code_gives_the_output_im2col_and_toeplitz(page, live_server, query):
    open_view(page, f"{live_server}/matrices?{query}")
    assert page.get_attribute("body", "data-error") == ""
    scope = run_page_code(page)
    data = download_json(page)
    y = dense(data["trace"])
    np.testing.assert_allclose(scope["y"].numpy(), y, rtol=1e-12)
    np.testing.assert_allclose(scope["y_im2col"].numpy(), y.flatten(), rtol=1e-12)
    np.testing.assert_allclose(scope["cols"].numpy(), np.array(data["im2col"])[0], rtol=1e-12)
    np.testing.assert_allclose(scope["C"].numpy(), np.array(data["toeplitz"]), rtol=1e-12)
    assert page.problems == []


NETWORK = [{"op": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1, "name": "stem"},
           {"op": "batch_norm2d"}, {"op": "relu"},
           {"op": "max_pool2d", "kernel_size": 2},
           {"op": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same", "name": "branch"},
           {"op": "interpolate", "scale_factor": 2, "mode": "bilinear", "align_corners": False},
           {"op": "max_unpool2d", "kernel_size": 2, "name": "lonely"},
           {"op": "leaky_relu", "negative_slope": 0.2}, {"op": "dropout", "p": 0.1},
           {"op": "adaptive_avg_pool2d", "output_size": 3}, {"op": "flatten"}, {"op": "linear", "out_features": 5}]


@pytest.mark.parametrize("query", ["", "preset=encoder-decoder", "preset=alexnet-torchvision",
                                   "preset=custom&h=12&w=12&stack=" + json.dumps(NETWORK, separators=(",", ":"))])
def test_receptive_field_code_builds_the_stack_of_the_table(page, live_server, api_paths, query):
    if "/api/v1/receptive-field" not in api_paths:
        pytest.skip("POST /api/v1/receptive-field is not on this server yet")
    open_view(page, f"{live_server}/receptive-field?{query}")
    assert page.get_attribute("body", "data-error") == ""
    data = download_json(page)
    table = data["receptive_field"]["layers"]
    code = page.text_content("#pytorch-code")
    for wrong in ("nn.BatchNorm2d()", "nn.Linear(out_features", "interpolate(", "nn.Sequential"):
        assert wrong not in code
    scope = run_page_code(page)
    # every module's output has the n the table shows (one hook per layer, in the table's order)
    net, sizes = scope["net"], {}

    def record(name: str) -> Any:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            sizes[name] = tuple((output[0] if isinstance(output, tuple) else output).shape)
        return hook

    for name, module in net.named_children():
        module.register_forward_hook(record(name))
    with torch.no_grad():
        net(scope["x"])
    assert tuple(scope["x"].shape[2:]) == tuple(data["input_size"])
    for entry in table[1:]:
        name = entry["name"].replace("-", "_")
        if name in sizes and len(sizes[name]) == 4:
            assert list(sizes[name][2:]) == entry["n"], entry
    assert len(sizes) >= sum(e["op"] not in ("add", "concat") for e in table[1:])
    assert page.problems == []
