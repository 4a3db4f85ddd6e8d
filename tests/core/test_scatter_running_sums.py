"""The conv_transpose trace's `scatter`: each output cell as the scatter builds it equals torch's
conv_transpose of the input cells stamped so far (the rest set to zero)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convscope.core.ops import run_op


@pytest.mark.parametrize(("shape", "kernel", "params"), [
    pytest.param((1, 1, 3, 4), (1, 1, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}, id="2d-stride2"),
    pytest.param((1, 2, 3, 3), (2, 2, 2, 2), {"stride": 1, "dilation": 2, "bias": True}, id="2d-channels-bias"),
    pytest.param((1, 1, 5), (1, 1, 3), {"stride": 3}, id="1d"),
])
def test_running_sums_equal_torch_on_the_inputs_stamped_so_far(shape, kernel, params):
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(-3, 5, shape, generator=gen).double()
    w = torch.randint(-2, 3, kernel, generator=gen).double()
    b = torch.randint(-3, 3, (kernel[1],), generator=gen).double() if params.get("bias") else None
    kw = {k: v for k, v in params.items() if k != "bias"}
    body = {"input": x.tolist(), "weight": w.tolist(), **kw, "extras": ["trace"]}
    if b is not None:
        body["bias"] = b.tolist()
    cells = run_op(f"conv_transpose{x.ndim - 2}d", body)["trace"]["cells"]
    op = F.conv_transpose2d if x.ndim == 4 else F.conv_transpose1d
    steps = x[0].numel()
    for t in range(steps):
        mask = (torch.arange(steps) <= t).double().reshape(x.shape)
        partial = op(x * mask, w, b, **kw)
        for cell in cells:
            reached = [v for step, v in cell["scatter"] if step <= t]
            expected = float(partial[tuple(cell["out"])])
            start = 0.0 if b is None else float(b[cell["out"][1]])
            assert (reached[-1] if reached else start) == pytest.approx(expected, abs=1e-9)
    for cell in cells:  # the last step leaves the cell at torch's value, and steps come in order
        assert cell["scatter"][-1][1] == pytest.approx(cell["value"], abs=1e-9)
        assert [s for s, _ in cell["scatter"]] == sorted({s for s, _ in cell["scatter"]})
    assert np.isfinite([v for c in cells for _, v in c["scatter"]]).all()
