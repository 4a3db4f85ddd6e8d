"""Past findings of the fuzz run and of the probing it led to, each as the minimal request that failed.

Each once answered a 5xx, an undocumented status, or a 200 with a wrong body; now it is a 4xx in the
one envelope, with a sentence that says what to change.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from convscope.schemas import ErrorResponse

_JSON = "application/json"
_I3 = [[[[1, 2, 0], [0, 1, 3], [2, 2, 1]]]]


def _nested(depth: int) -> Any:
    return json.loads("[" * depth + "1" + "]" * depth)


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


FINDINGS = [
    # Bytes that are not UTF-8: FastAPI answered an undocumented 400 "There was an error parsing the body".
    pytest.param("/api/v1/ops/conv1d", b"\xff", 422, "not valid JSON (JSON is UTF-8 text, and byte 0xff",
                 id="non-utf8-body-ops"),
    pytest.param("/api/v1/shapes", b'{"input_shape": "\xe9"}', 422, "byte 0xe9 at position 17 is not UTF-8",
                 id="non-utf8-body-shapes"),
    pytest.param("/api/v1/exercises", b"\x03W\xd0D", 422, "not valid JSON", id="non-utf8-body-exercises"),
    # JSON nested past the decoder's recursion limit: the same bare 400.
    pytest.param("/api/v1/ops/conv2d", b"[" * 100_000 + b"]" * 100_000, 422, "nest too deep",
                 id="json-nested-past-the-decoder"),
    # A tensor nested deeper than numpy's 64 dimensions: np.array raised ValueError, a 500.
    pytest.param("/api/v1/ops/conv2d", _body({"input": _nested(500), "weight": [[[[1]]]]}), 422,
                 "input nests lists more than 8 deep", id="tensor-deeper-than-numpy"),
    pytest.param("/api/v1/ops/conv2d", _body({"input": _I3, "weight": [[[[1]]]], "grad_output": _nested(100)}), 422,
                 "grad_output nests lists more than 8 deep", id="grad-output-deeper-than-numpy"),
    # Pooling with a stride past 32 bits: torch's "value cannot be converted to type int without overflow", a 500.
    pytest.param("/api/v1/ops/max_pool2d", _body({"input": _I3, "kernel_size": 2, "stride": 2**31}), 422,
                 "stride must be at most 2^31 − 1 = 2,147,483,647", id="max-pool-stride-past-int32"),
    pytest.param("/api/v1/ops/avg_pool1d", _body({"input": _I3[0], "kernel_size": 2, "stride": 2**31}), 422,
                 "the length value is 2147483648", id="avg-pool1d-stride-past-int32"),
    # Convolution with a stride past 64 bits: "Overflow when unpacking long long", a 500.
    pytest.param("/api/v1/ops/conv2d", _body({"input": _I3, "weight": [[[[1]]]], "stride": 10**400}), 422,
                 "(401 digits)", id="conv-stride-past-int64"),
    pytest.param("/api/v1/ops/avg_pool2d", _body({"input": _I3, "kernel_size": 2, "divisor_override": 2**63}), 422,
                 "divisor_override must be at most 2^31 − 1", id="divisor-override-past-int64"),
    # float32 overflow came back as 200 with "output": [[[[null]]]].
    pytest.param("/api/v1/ops/conv2d", _body({"input": [[[[1e30]]]], "weight": [[[[1e30]]]], "dtype": "float32"}),
                 422, "The float32 result overflows: output[0][0][0][0] is inf", id="float32-overflow-null-output"),
]


@pytest.mark.parametrize(("path", "content", "status", "fragment"), FINDINGS)
def test_finding_is_a_4xx_envelope(client: TestClient, path: str, content: bytes, status: int,
                                   fragment: str) -> None:
    response = client.post(path, content=content, headers={"content-type": _JSON})
    assert response.status_code == status, response.text[:400]
    assert response.headers["content-type"].startswith(_JSON)
    body = ErrorResponse.model_validate(response.json())
    assert body.status == status and fragment in body.error, body.error
    assert body.errors and all(e.msg for e in body.errors)


def test_a_wrongly_nested_answer_is_graded_zero_not_an_error(client: TestClient) -> None:
    # parse_tensor's numpy ValueError escaped the grader as a 500; a malformed answer is graded 0 (HTTP 200).
    response = client.post("/api/v1/exercises/grade", json={"kind": "conv_output_values", "seed": 1,
                                                            "answer": _nested(300)})
    assert response.status_code == 200, response.text[:400]
    graded = response.json()
    assert graded["score"] == 0 and graded["correct"] is False
    assert "nests lists more than 8 deep" in graded["feedback"]


@pytest.mark.parametrize(("path", "body"), [
    pytest.param("/api/v1/pipeline", {"image": {"sample": []}, "layers": None}, id="pipeline-sample-list"),
    pytest.param("/api/v1/pipeline", {"image": {"sample": {}}}, id="pipeline-sample-object"),
    pytest.param("/api/v1/pipeline/probe", {"image": {"sample": []}, "unit": {"layer": 0, "y": 0, "x": 0}},
                 id="probe-sample-list"),
])
def test_a_sample_name_that_is_not_a_string_is_422(client, path: str, body: dict) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422 and r.json()["ok"] is False and "named by a string" in r.json()["error"]
