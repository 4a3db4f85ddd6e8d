"""The fully convolutional twin: equal to the classifier on the training size to float64 precision, and its
map equal to sliding the classifier over crops; the API's envelope for bad sizes."""
from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from convscope.app import create_app
from convscope.core.exceptions import InvalidRequest
from convscope.core.fcn import fully_convolutional


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size", [12, 14, 24])
def test_twin_equals_classifier_and_sliding(seed, size):
    r = fully_convolutional(size, 4, seed)
    np.testing.assert_allclose(r["twin_on_train_size"], r["classifier_logits"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r["map"], r["sliding"], rtol=0, atol=1e-12)
    n = (size - 12) // 2 + 1
    assert r["map_shape"] == [1, 4, n, n] and r["cost"]["twin"]["windows"] == n * n
    if n > 1:
        assert r["cost"]["sliding"]["macs"] > r["cost"]["twin"]["macs"]


@pytest.mark.parametrize("size", [10, 13, 66])
def test_bad_sizes_are_refused(size):
    with pytest.raises(InvalidRequest):
        fully_convolutional(size)


def test_api():
    client = TestClient(create_app())
    ok = client.post("/api/v1/fully-convolutional", json={"size": 16})
    assert ok.status_code == 200 and ok.json()["map_shape"] == [1, 4, 3, 3]
    bad = client.post("/api/v1/fully-convolutional", json={"size": 13})
    assert bad.status_code == 422 and "multiple of the network's stride 2" in bad.json()["error"]
