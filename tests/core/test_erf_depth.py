"""The effective field against depth: the uniform stack's std is sqrt(2n/3) for 3×3 kernels, random
stacks stay well inside r, the comparison of stacks counts as the formulas say; the API refuses
oversized requests with a 4xx before running anything."""
from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from convscope.app import create_app
from convscope.core.erf_depth import compare_stacks, erf_depth
from convscope.core.exceptions import InvalidRequest, TooLarge


def test_uniform_std_is_the_sqrt_law_within_one_percent():
    result = erf_depth([5, 10, 20, 40], kernel_size=3, trials=1)
    for row in result["depths"]:
        law = math.sqrt(2 * row["n"] / 3)
        assert row["law_std"] == pytest.approx(law)
        assert abs(row["uniform"]["std"] - law) / law < 0.01, row
        assert row["uniform"]["width95"] < row["r"]  # the ERF fills only part of the theoretical field


def test_compare_stacks_same_r_fewer_params_and_macs():
    pairs = compare_stacks(64, 56)["pairs"]
    five, seven = pairs
    assert five["single"]["r"] == five["stack"]["r"] == 5 and seven["single"]["r"] == seven["stack"]["r"] == 7
    assert five["single"]["params"] == 64 * 64 * 25 + 64 and five["stack"]["params"] == 2 * (64 * 64 * 9 + 64)
    assert seven["ratio_macs"] == pytest.approx(27 / 49) and five["ratio_macs"] == pytest.approx(18 / 25)


@pytest.mark.parametrize(("kwargs", "error"), [
    pytest.param({"depths": [0]}, InvalidRequest, id="depth-0"),
    pytest.param({"depths": [3], "kernel_size": 4}, InvalidRequest, id="even-kernel"),
    pytest.param({"depths": [64] * 20, "trials": 32}, TooLarge, id="too-much-work"),
])
def test_bad_requests_are_refused(kwargs, error):
    with pytest.raises(error):
        erf_depth(**kwargs)


def test_api_envelope():
    client = TestClient(create_app())
    ok = client.post("/api/v1/effective-field/depth", json={"depths": [2, 4], "trials": 2})
    assert ok.status_code == 200 and ok.json()["ok"] is True and len(ok.json()["depths"]) == 2
    bad = client.post("/api/v1/effective-field/depth", json={"depths": [64] * 20, "trials": 32})
    assert bad.status_code == 413 and bad.json()["ok"] is False and "6,000" in bad.json()["error"]
    cmp = client.post("/api/v1/effective-field/compare-stacks", json={"channels": 0})
    assert cmp.status_code == 422 and "channels must be" in cmp.json()["error"]
