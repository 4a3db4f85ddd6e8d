"""core/transpose_view.py: the stretched-input direct convolution equals torch's conv_transpose, always."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from convscope.core.exceptions import InvalidRequest
from convscope.core.transpose_view import axis_layout, flip_weight, transpose_view


@pytest.mark.parametrize(("n", "k", "s", "p", "a", "d", "kinds"), [
    pytest.param(2, 3, 2, 0, 0, 1, "pp x z x pp", id="stride2"),
    pytest.param(2, 3, 2, 1, 1, 1, "p x z x p o", id="padding1-output-padding1"),
    pytest.param(3, 2, 1, 1, 0, 1, "x x x", id="padding-equals-d(k-1)"),
    pytest.param(3, 3, 2, 3, 0, 1, "z x z", id="negative-padding-crops"),
    pytest.param(2, 2, 3, 0, 2, 2, "pp x zz x pp oo", id="dilation-and-output-padding"),
])
def test_axis_layout(n, k, s, p, a, d, kinds):
    short = {"padding": "p", "input": "x", "inserted": "z", "output_padding": "o"}
    got = "".join(short[kind] for kind, _ in axis_layout(n, k, s, p, a, d))
    assert got == kinds.replace(" ", "")


def test_layout_keeps_each_input_once_in_order():
    layout = axis_layout(4, 3, 3, 1, 2, 1)
    assert [src for kind, src in layout if kind == "input"] == [0, 1, 2, 3]


@given(h=st.integers(1, 4), w=st.integers(1, 4), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 3),
       a=st.integers(0, 2), d=st.integers(1, 2), groups=st.sampled_from([1, 2]), seed=st.integers(0, 99))
def test_direct_convolution_equals_conv_transpose(h, w, k, s, p, a, d, groups, seed):
    # torch refuses these; the view answers with the op's own sentence (tested below)
    assume(a < max(s, d) and (min(h, w) - 1) * s - 2 * p + d * (k - 1) + a + 1 >= 1)
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (1, 2, h, w)).astype(float)
    wt = rng.integers(-2, 3, (2, 3 if groups == 1 else 1, k, k)).astype(float)
    out = transpose_view({"input": x.tolist(), "weight": wt.tolist(), "stride": s, "padding": p,
                          "output_padding": a, "dilation": d, "groups": groups})
    expected = F.conv_transpose2d(torch.tensor(x), torch.tensor(wt), stride=s, padding=p, output_padding=a,
                                  dilation=d, groups=groups).numpy()
    assert out["matches"]
    np.testing.assert_allclose(out["direct"]["output"], expected, atol=1e-9)
    np.testing.assert_allclose(out["output"], expected, atol=1e-9)
    # the direct conv's trace reads the stretched input; its cells that copy an input carry its value
    kinds, origin, stretched = np.array(out["kinds"]), out["origin"], np.asarray(out["stretched"])
    for (r, c), kind in np.ndenumerate(kinds):
        if kind == "input":
            assert stretched[0, :, r, c].tolist() == x[0, :, origin[r][c][0], origin[r][c][1]].tolist()
        else:
            assert origin[r][c] is None and not stretched[0, :, r, c].any()


def test_flip_weight_swaps_channels_per_group_and_flips():
    w = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)  # C_in=2, C_out/g=3, groups=2 -> C_out=6
    f = flip_weight(w, 2)
    assert f.shape == (6, 1, 2, 2)
    assert f[4, 0].tolist() == w[1, 1, ::-1, ::-1].tolist()


def test_one_dimensional():
    out = transpose_view({"input": [[[1.0, 2.0, 3.0]]], "weight": [[[1.0, 10.0]]], "stride": 2})
    assert out["kinds"] == ["padding", "input", "inserted", "input", "inserted", "input", "padding"]
    assert out["matches"] and out["direct"]["trace"]["op"] == "conv1d"


def test_illegal_settings_keep_the_ops_sentence():
    with pytest.raises(InvalidRequest, match=r"output_padding \(2\) must be smaller than stride \(2\)"):
        transpose_view({"input": [[[[1.0]]]], "weight": [[[[1.0]]]], "stride": 2, "output_padding": 2})
    with pytest.raises(InvalidRequest, match="has no parameter 'extras'"):
        transpose_view({"input": [[[[1.0]]]], "weight": [[[[1.0]]]], "extras": ["trace"]})
