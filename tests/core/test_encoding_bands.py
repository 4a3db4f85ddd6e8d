"""A large channels-last map's min and max are found a band of rows at a time (encoding.RANGE_BAND_BYTES): the
same numbers as over the whole map, for every band height, with non-finite values too."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from convscope.core import encoding
from convscope.core.encoding import encode_stack


@pytest.mark.parametrize("band_bytes", [1, 7 * 4 * 5, 1 << 30])
@pytest.mark.parametrize("poison", [False, True])
def test_banded_range_equals_the_whole_maps(monkeypatch: pytest.MonkeyPatch, band_bytes: int, poison: bool) -> None:
    monkeypatch.setattr(encoding, "RANGE_BAND_BYTES", band_bytes)
    x = torch.from_numpy(np.random.default_rng(band_bytes).standard_normal((1, 5, 23, 7), dtype=np.float32))
    if poison:
        x[0, 2, 4, 3], x[0, 4, 20, 1] = float("nan"), float("-inf")
    cl = x.contiguous(memory_format=torch.channels_last)[0]
    assert cl.stride(0) == 1  # the channels-last (H×W×C) path
    got = encode_stack(cl, max_side=8)
    finite = torch.where(torch.isfinite(x[0]), x[0], torch.nan).double()
    assert got.lo == [float(np.nanmin(c)) for c in finite.numpy()]
    assert got.hi == [float(np.nanmax(c)) for c in finite.numpy()]
    assert got.finite is not poison
