"""Hand-computed checks of tests/reference.py, so that the oracle itself is trusted.

Every expected number below was worked out on paper from the formula named in
the test; none comes from torch or from the reference.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests import reference as ref

LECTURE = [[1, 3, 2, 9], [7, 4, 1, 5], [8, 5, 2, 3], [4, 2, 1, 4]]


def t1(values: list[float]) -> np.ndarray:
    """A 1-D signal as an N=1, C=1 tensor."""
    return np.array([[values]], dtype=np.float64)


def t2(rows: list[list[float]]) -> np.ndarray:
    """A 2-D image as an N=1, C=1 tensor."""
    return np.array([[rows]], dtype=np.float64)


def assert_same(got: np.ndarray, expected: object) -> None:
    expected_arr = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected_arr.shape, f"shape {got.shape} != {expected_arr.shape}"
    np.testing.assert_allclose(got, expected_arr, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- max pooling


def test_lecture_max_pool_k2_s2() -> None:
    """Windows {1,3,7,4} {2,9,1,5} {8,5,4,2} {2,3,1,4}: maxima 7 9 8 4 at flat 4, 3, 8, 15."""
    values, indices = ref.max_pool(t2(LECTURE), 2, 2)
    assert_same(values, [[[[7, 9], [8, 4]]]])
    assert indices.tolist() == [[[[4, 3], [8, 15]]]]


def test_max_pool_ceil_mode_adds_a_partial_window() -> None:
    """n=6, k=3, s=2: floor -> 2 windows; ceil -> 3, the last [4, 6) hanging off the end."""
    x = t1([1, 2, 3, 4, 5, 6])
    assert_same(ref.max_pool(x, 3, 2)[0], [[[3, 5]]])
    values, indices = ref.max_pool(x, 3, 2, ceil_mode=True)
    assert_same(values, [[[3, 5, 6]]])
    assert indices.tolist() == [[[2, 4, 5]]]


def test_max_pool_ceil_mode_last_window_must_start_inside() -> None:
    """n=5, k=2, s=2, p=1: ceil((5+2-2)/2)+1 = 4, but window 3 would start at 6-1 = 5 >= n: 3 windows."""
    assert ref.pool_output_size(5, 2, 2, 1, 1, ceil_mode=True) == 3
    assert ref.pool_output_size(6, 3, 2, 0, 1, ceil_mode=True) == 3
    assert ref.pool_output_size(6, 3, 2, 0, 1, ceil_mode=False) == 2


def test_max_pool_dilation_and_padding() -> None:
    """k=2, d=2 on [1,5,2,4,3]: taps (0,2) (1,3) (2,4) -> 2, 5, 3 at 2, 1, 4.
    With s=2, p=1 the windows' taps are (-1, 1), (1, 3), (3, 5): padding is -inf,
    so 5 at 1, 5 at 1, -4 at 3."""
    values, indices = ref.max_pool(t1([1, 5, 2, 4, 3]), 2, 1, 0, 2)
    assert_same(values, [[[2, 5, 3]]])
    assert indices.tolist() == [[[2, 1, 4]]]
    values, indices = ref.max_pool(t1([-1, 5, -2, -4, -3]), 2, 2, 1, 2)
    assert_same(values, [[[5, 5, -4]]])
    assert indices.tolist() == [[[1, 1, 3]]]


def test_max_pool_ties_pick_the_first_tap_in_scan_order() -> None:
    values, indices = ref.max_pool(t2([[3, 3], [3, 3]]), 2)
    assert_same(values, [[[[3]]]])
    assert indices.tolist() == [[[[0]]]]


# ---------------------------------------------------------------- average pooling


def test_avg_pool_count_include_pad() -> None:
    """[1..5], k=3, s=2, p=1: windows [-1,2) [1,4) [3,6) -> sums 3, 9, 9 over 3 cells each,
    or over 2, 3, 2 real cells without the padding."""
    x = t1([1, 2, 3, 4, 5])
    assert_same(ref.avg_pool(x, 3, 2, 1, count_include_pad=True), [[[1, 3, 3]]])
    assert_same(ref.avg_pool(x, 3, 2, 1, count_include_pad=False), [[[1.5, 3, 4.5]]])


def test_avg_pool_ceil_window_divisor_clipped_to_padded_extent() -> None:
    """n=6, k=3, s=2, ceil: last window [4, 7) is clipped to [4, 6) *before* counting: 11 / 2."""
    x = t1([1, 2, 3, 4, 5, 6])
    for include in (True, False):
        assert_same(ref.avg_pool(x, 3, 2, ceil_mode=True, count_include_pad=include), [[[2, 4, 5.5]]])


def test_avg_pool_2d_corner_with_padding() -> None:
    """2x2 input, k=2, s=2, p=1: every window holds one real cell and three padding cells."""
    x = t2([[1, 2], [3, 4]])
    assert_same(ref.avg_pool(x, 2, 2, 1), [[[[0.25, 0.5], [0.75, 1.0]]]])
    assert_same(ref.avg_pool(x, 2, 2, 1, count_include_pad=False), [[[[1, 2], [3, 4]]]])


# ---------------------------------------------------------------- max unpooling


def test_max_unpool_puts_lecture_maxima_back() -> None:
    out = ref.max_unpool(t2([[7, 9], [8, 4]]), np.array([[[[4, 3], [8, 15]]]]), 2, 2)
    assert_same(out, [[[[0, 0, 0, 9], [7, 0, 0, 0], [8, 0, 0, 0], [0, 0, 0, 4]]]])


def test_max_unpool_output_size_for_odd_input() -> None:
    """A 5-long input pooled with k=2 gives 2 cells; the default unpool size is (2-1)*2 + 2 = 4."""
    out = ref.max_unpool(t1([5, 7]), np.array([[[1, 4]]]), 2, 2, output_size=[5])
    assert_same(out, [[[0, 5, 0, 0, 7]]])
    assert ref.unpool_output_size(2, 2, 2) == 4


# ---------------------------------------------------------------- convolution


def test_conv1d_by_hand() -> None:
    """w = [1, 0, -1] on [1..5] (cross-correlation): out[i] = x[i] - x[i+2]."""
    x, w = t1([1, 2, 3, 4, 5]), np.array([[[1.0, 0.0, -1.0]]])
    assert_same(ref.conv(x, w), [[[-2, -2, -2]]])
    assert_same(ref.conv(x, w, np.array([1.0])), [[[-1, -1, -1]]])
    # zero padding 1: [0,1,2,3,4,5,0] -> 0-2, 1-3, 2-4, 3-5, 4-0
    assert_same(ref.conv(x, w, padding=1), [[[-2, -2, -2, -2, 4]]])
    assert_same(ref.conv(x, w, stride=2, padding=1), [[[-2, -2, 4]]])
    # dilation 2: taps x[i], x[i+2], x[i+4]; effective kernel 5 leaves one output: 1 - 5
    assert_same(ref.conv(x, w, dilation=2), [[[-4]]])


def test_conv1d_same_padding_puts_the_extra_on_the_right() -> None:
    """k=4: total padding 3 = 1 left + 2 right: [0,1,2,3,0,0] summed in fours."""
    assert ref.same_padding(4) == (1, 2)
    assert ref.same_padding(3, 2) == (2, 2)
    assert_same(ref.conv(t1([1, 2, 3]), np.ones((1, 1, 4)), padding="same"), [[[6, 6, 5]]])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param("zeros", [0, 0, 1, 2, 3, 0, 0], id="zeros"),
        pytest.param("reflect", [3, 2, 1, 2, 3, 2, 1], id="reflect-no-edge-repeat"),
        pytest.param("replicate", [1, 1, 1, 2, 3, 3, 3], id="replicate"),
        pytest.param("circular", [2, 3, 1, 2, 3, 1, 2], id="circular"),
    ],
)
def test_padding_modes_through_a_1x1_identity_kernel(mode: str, expected: list[int]) -> None:
    """A k=1 kernel of weight 1 with padding 2 returns the padded signal itself."""
    assert_same(ref.conv(t1([1, 2, 3]), np.ones((1, 1, 1)), padding=2, padding_mode=mode), [[expected]])


def test_conv2d_by_hand() -> None:
    """[[1,2],[3,4]] over 1..9: 1+4+12+20, 2+6+15+24, 4+10+21+32, 5+12+24+36."""
    x = t2([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert_same(ref.conv(x, w), [[[[37, 47], [67, 77]]]])
    # rectangular padding (1, 0): a row of zeros above and below, none at the sides
    top = [3 * 1 + 4 * 2, 3 * 2 + 4 * 3]
    bottom = [1 * 7 + 2 * 8, 1 * 8 + 2 * 9]
    assert_same(ref.conv(x, w, padding=(1, 0)), [[[top, [37, 47], [67, 77], bottom]]])


def test_conv_groups_keep_channels_apart() -> None:
    """groups=2, one 1-tap filter per channel: channel 0 times 2, channel 1 times 10."""
    x = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    w = np.array([[[2.0]], [[10.0]]])
    assert_same(ref.conv(x, w, groups=2), [[[2, 4], [30, 40]]])
    # groups=1 with the same input: each output channel sums both input channels
    w1 = np.array([[[1.0], [1.0]]])
    assert_same(ref.conv(x, w1), [[[4, 6]]])


def test_conv_backward_by_hand() -> None:
    """x=[1,2,3], w=[1,10], g=[1,1]: dw[t] = sum_y g[y] x[y+t] = [3,5]; dx = [1, 11, 10]; db = 2."""
    grad_input, grad_weight, grad_bias = ref.conv_backward(t1([1, 2, 3]), np.array([[[1.0, 10.0]]]), t1([1, 1]))
    assert_same(grad_input, [[[1, 11, 10]]])
    assert_same(grad_weight, [[[3, 5]]])
    assert_same(grad_bias, [2])


def test_im2col_rows_are_windows() -> None:
    x = t2([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert_same(ref.im2col(x, 2), [[[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]]])


# ---------------------------------------------------------------- transposed convolution


def test_conv_transpose1d_scatters_weighted_kernel_copies() -> None:
    """x=[1,2], w=[1,10,100], s=2: 1*w stamped at 0 and 2*w stamped at 2:
    [1,10,100,0,0] + [0,0,2,20,200] = [1,10,102,20,200]."""
    x, w = t1([1, 2]), np.array([[[1.0, 10.0, 100.0]]])
    assert_same(ref.conv_transpose(x, w, stride=2), [[[1, 10, 102, 20, 200]]])
    # padding crops one cell off each end; output_padding gives one back on the right
    assert_same(ref.conv_transpose(x, w, stride=2, padding=1), [[[10, 102, 20]]])
    assert_same(ref.conv_transpose(x, w, stride=2, padding=1, output_padding=1), [[[10, 102, 20, 200]]])
    # dilation 2 spreads each stamp: 1*[1,0,10,0,100] at 0, 2*[...] at 1
    assert_same(ref.conv_transpose(x, w, dilation=2), [[[1, 2, 10, 20, 100, 200]]])
    assert_same(ref.conv_transpose(x, w, np.array([0.5]), stride=2), [[[1.5, 10.5, 102.5, 20.5, 200.5]]])


def test_conv_transpose2d_by_hand() -> None:
    """2x2 ones kernel: stride 1 overlaps the stamps, stride 2 tiles them."""
    x, w = t2([[1, 2], [3, 4]]), np.ones((1, 1, 2, 2))
    assert_same(ref.conv_transpose(x, w), [[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]])
    assert_same(ref.conv_transpose(x, w, stride=2),
                [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]])


def test_conv_transpose_weight_layout_and_groups() -> None:
    """weight is (C_in, C_out/G, k): with groups=2, input channel c feeds only output channel c."""
    x = np.array([[[1.0], [2.0]]])
    w = np.array([[[1.0, 1.0]], [[5.0, 7.0]]])  # (2, 1, 2)
    assert_same(ref.conv_transpose(x, w, groups=2), [[[1, 1], [10, 14]]])


def test_conv_and_conv_transpose_are_adjoint() -> None:
    """<conv(x), g> = <x, conv_transpose(g)> when the sizes line up (the matrix C and its transpose)."""
    rng = np.random.default_rng(1)
    x, w = rng.integers(-3, 4, (1, 2, 5, 6)).astype(float), rng.integers(-3, 4, (3, 2, 3, 2)).astype(float)
    y = ref.conv(x, w, stride=2, padding=1)
    g = rng.integers(-3, 4, y.shape).astype(float)
    back = ref.conv_transpose(g, w, stride=2, padding=1)
    assert back.shape == x.shape
    assert float((y * g).sum()) == pytest.approx(float((x * back).sum()))
    assert_same(ref.conv_backward(x, w, g, stride=2, padding=1)[0], back)


# ---------------------------------------------------------------- interpolation


def test_linear_align_corners_true_by_hand() -> None:
    """in=2 -> out=4, src = dst * (2-1)/(4-1): 0, 1/3, 2/3, 1 on [0, 10]."""
    out = ref.interpolate(t1([0, 10]), size=4, mode="linear", align_corners=True)
    assert_same(out, [[[0, 10 / 3, 20 / 3, 10]]])


def test_linear_align_corners_false_by_hand() -> None:
    """scale 1/2, src = (dst + 0.5)/2 - 0.5: -0.25 (clamped to 0), 0.25, 0.75, 1.25 (x1 clamped to 1)."""
    out = ref.interpolate(t1([0, 10]), size=4, mode="linear", align_corners=False)
    assert_same(out, [[[0, 2.5, 7.5, 10]]])
    assert_same(ref.interpolate(t1([0, 10]), scale_factor=2.0, mode="linear"), [[[0, 2.5, 7.5, 10]]])


def test_bilinear_is_separable_by_hand() -> None:
    """f(y, x) = 20y + 10x is bilinear, so the output is 20 fy + 10 fx with the 1-D fractions."""
    x = t2([[0, 10], [20, 30]])
    fractions = {True: [0, 1 / 3, 2 / 3, 1], False: [0, 0.25, 0.75, 1]}
    for corners, f in fractions.items():
        expected = [[20 * fy + 10 * fx for fx in f] for fy in f]
        assert_same(ref.interpolate(x, size=(4, 4), mode="bilinear", align_corners=corners), [[expected]])


def test_nearest_and_nearest_exact_by_hand() -> None:
    """in=3 -> out=5, scale 0.6. nearest: floor(0, .6, 1.2, 1.8, 2.4) = 0 0 1 1 2.
    nearest-exact: floor(.3, .9, 1.5, 2.1, 2.7) = 0 0 1 2 2."""
    x = t1([1, 2, 3])
    assert_same(ref.interpolate(x, size=5, mode="nearest"), [[[1, 1, 2, 2, 3]]])
    assert_same(ref.interpolate(x, size=5, mode="nearest-exact"), [[[1, 1, 2, 3, 3]]])
    assert_same(ref.interpolate(t2([[1, 2, 3]]), size=(1, 5), mode="nearest"), [[[[1, 1, 2, 2, 3]]]])


def test_nearest_downsampling_by_hand() -> None:
    """in=5 -> out=2: nearest reads floor(0, 2.5) = 0, 2; nearest-exact floor(1.25, 3.75) = 1, 3."""
    x = t1([10, 11, 12, 13, 14])
    assert_same(ref.interpolate(x, size=2, mode="nearest"), [[[10, 12]]])
    assert_same(ref.interpolate(x, size=2, mode="nearest-exact"), [[[11, 13]]])


def test_cubic_weights_by_hand() -> None:
    """A = -0.75. t=0: [0, 1, 0, 0]. t=0.5: [-0.09375, 0.59375, 0.59375, -0.09375].
    t=0.25: W(1.25) = -0.10546875, W(0.25) = 0.87890625, W(0.75) = 0.26171875, W(1.75) = -0.03515625."""
    assert ref.cubic_weights(0.0) == pytest.approx([0, 1, 0, 0])
    assert ref.cubic_weights(0.5) == pytest.approx([-0.09375, 0.59375, 0.59375, -0.09375])
    assert ref.cubic_weights(0.25) == pytest.approx([-0.10546875, 0.87890625, 0.26171875, -0.03515625])
    for t in (0.0, 0.1, 0.37, 0.5, 0.99):
        assert sum(ref.cubic_weights(t)) == pytest.approx(1.0)


def test_bicubic_by_hand() -> None:
    """Row [1, 2, 4, 8] -> 8 wide (scale 1/2).
    dst=3: src = 3.5/2 - 0.5 = 1.25, taps 0..3 with the t=0.25 weights:
      -0.10546875*1 + 0.87890625*2 + 0.26171875*4 - 0.03515625*8 = 2.41796875.
    dst=0: src = -0.25 is NOT clamped for cubic: floor -1, t = 0.75, taps -2..1 clamp to 0,0,0,1:
      (-0.03515625 + 0.26171875 + 0.87890625)*1 - 0.10546875*2 = 0.89453125 (clamping src would give 1)."""
    out = ref.interpolate(t2([[1, 2, 4, 8]]), size=(1, 8), mode="bicubic", align_corners=False)
    assert out[0, 0, 0, 3] == pytest.approx(2.41796875)
    assert out[0, 0, 0, 0] == pytest.approx(0.89453125)
    corners = ref.interpolate(t2([[1, 2, 4, 8]]), size=(1, 7), mode="bicubic", align_corners=True)
    # align_corners: src = dst * 3/6 = dst/2, so even outputs land exactly on inputs
    assert corners[0, 0, 0, ::2].tolist() == pytest.approx([1, 2, 4, 8])


def test_interpolate_scale_factor_sizes() -> None:
    """out = floor(in * scale_factor)."""
    assert ref.interpolate_output_size([5, 3], None, 1.5) == [7, 4]
    assert ref.interpolate_output_size([5, 3], None, [0.5, 2.0]) == [2, 6]
    assert ref.interpolate_output_size([5, 3], (2, 9), None) == [2, 9]


# ---------------------------------------------------------------- size arithmetic


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((4, 3), 2, id="no-padding"),
        pytest.param((5, 4, 1, 2), 6, id="padding-2"),
        pytest.param((5, 3, 2, 1), 3, id="strided-padded"),
        pytest.param((6, 3, 2, 1), 3, id="strided-padded-floor"),
        pytest.param((7, 3, 1, 0, 0, 2), 3, id="dilated"),
        pytest.param((5, 4, 1, 1, 2), 5, id="asymmetric-same"),
    ],
)
def test_conv_output_size(args: tuple[int, ...], expected: int) -> None:
    assert ref.conv_output_size(*args) == expected


def test_conv_transpose_output_size() -> None:
    """(n-1)s - 2p + d(k-1) + op + 1."""
    assert ref.conv_transpose_output_size(3, 3, 2, 1, 1) == 6
    assert ref.conv_transpose_output_size(2, 3, 1, 0, 0, 2) == 6
