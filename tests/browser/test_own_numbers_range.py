"""A slide's own numbers keep their meaning on screen: a typed kernel sets the kernel's colour range (zero in the
middle, the largest |weight| at the ends) instead of a fixed −2…2 that would saturate, and a page that draws one
channel refuses a second typed plane with a sentence instead of dropping it."""
from __future__ import annotations

import pytest

from .helpers import open_view
from .test_own_numbers import X, type_numbers

pytestmark = pytest.mark.browser
BIG_W = "10 0\n-20 30"


@pytest.mark.parametrize("view, grids", [("conv", "#kernel-grids .grid"), ("matrices", "#g-k .grid")])
def test_a_typed_kernel_sets_its_colour_range(page, live_server, view, grids):
    open_view(page, f"{live_server}/{view}")
    seeded = page.locator(grids).first
    lo, hi = float(seeded.get_attribute("data-zmin")), float(seeded.get_attribute("data-zmax"))
    assert lo == -hi and 0 < hi <= 2  # the seeded weights lie in −2…2; the range is the largest |w|
    type_numbers(page, X, BIG_W)
    kernel = page.locator(grids).first
    assert (float(kernel.get_attribute("data-zmin")), float(kernel.get_attribute("data-zmax"))) == (-30, 30)
    type_numbers(page, X, "0 0\n0 0")  # all zeros: a flat but valid range, no division by zero
    kernel = page.locator(grids).first
    assert (float(kernel.get_attribute("data-zmin")), float(kernel.get_attribute("data-zmax"))) == (-1, 1)
    assert page.problems == []


@pytest.mark.parametrize("view, name", [("transpose", "values_x"), ("transpose", "values_w"), ("pool", "values_x")])
def test_one_channel_pages_refuse_a_second_plane(page, live_server, view, name):
    open_view(page, f"{live_server}/{view}")
    page.fill(f"textarea[name={name}]", "1 2\n3 4\n\n5 6\n7 8")
    page.wait_for_selector(f"#error-{name}")
    text = page.inner_text(f"#error-{name}")
    assert "one channel" in text and "2 planes" in text
    assert "stale" in page.get_attribute("#stage", "class")
    page.fill(f"textarea[name={name}]", "1 2\n3 4")
    page.wait_for_selector("#stage:not(.stale)")
    assert page.locator(f"#error-{name}").count() == 0
