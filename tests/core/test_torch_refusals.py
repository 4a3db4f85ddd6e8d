"""Lists of the wrong length and avg_pool1d's missing divisor_override: refused here as torch refuses them."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convscope.core import shapes
from convscope.core.exceptions import InvalidRequest
from convscope.core.layers import summarize

_X = torch.randn(1, 2, 4, 4)


def test_interpolate_size_of_one_value_on_a_2d_input():
    with pytest.raises(ValueError):
        F.interpolate(_X, size=[6])
    with pytest.raises(InvalidRequest) as exc:
        summarize([2, 4, 4], [{"op": "interpolate", "size": [6]}])
    assert exc.value.loc == ["layers", 0, "size"] and "size is [6], but the input has 2 spatial axes" in exc.value.message
    assert summarize([2, 4, 4], [{"op": "interpolate", "size": 6}])["output_shape"] == [2, 6, 6]
    assert shapes.check_interpolate((1, 2, 4), {"size": [6]}).output_shape == (1, 2, 6)  # 1-D: one is right


@pytest.mark.parametrize("output_size", [[4], 4])
def test_unpool_output_size_must_have_two_or_four_values(output_size):
    y, i = F.max_pool2d(_X, 2, return_indices=True)
    with pytest.raises((ValueError, TypeError)):
        F.max_unpool2d(y, i, 2, output_size=output_size)
    with pytest.raises(InvalidRequest) as exc:
        summarize([2, 4, 4], [{"op": "max_pool2d", "kernel_size": 2},
                              {"op": "max_unpool2d", "kernel_size": 2, "output_size": output_size}])
    assert exc.value.loc == ["layers", 1, "output_size"] and "a list of 2 or 4 integers" in exc.value.message
    assert F.max_unpool2d(y, i, 2, output_size=[1, 2, 4, 4]).shape == (1, 2, 4, 4)


def test_avg_pool1d_has_no_divisor_override():
    with pytest.raises(TypeError):
        F.avg_pool1d(torch.randn(1, 2, 6), 2, divisor_override=2)  # type: ignore[call-arg]
    with pytest.raises(InvalidRequest) as exc:
        shapes.check_pool((1, 2, 6), {"kernel_size": 2, "divisor_override": 2}, 1, "avg")
    assert exc.value.loc == ["divisor_override"] and "avg_pool1d has no divisor_override" in exc.value.message
    assert shapes.check_pool((1, 2, 6, 6), {"kernel_size": 2, "divisor_override": 2}, 2, "avg").divisor_override == 2
