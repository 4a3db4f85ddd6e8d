"""Every error path answers in the one envelope, with a sentence that teaches, and the server keeps serving.

The same table runs in-process and against a real uvicorn on loopback.
"""
from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

Z = lambda *shape: np.zeros(shape).tolist()  # noqa: E731
OK_CONV = {"input": Z(1, 1, 4, 4), "weight": Z(1, 1, 3, 3)}


def _json(body: object) -> dict:
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def _raw(data: bytes, kind: str = "application/json") -> dict:
    return {"content": data, "headers": {"content-type": kind}}


CASES = [
    # (id, method, path, request kwargs, status, fragment of the sentence)
    ("unknown-path", "GET", "/api/v1/nothing", {}, 404, "nothing at /api/v1/nothing"),
    ("unknown-op", "POST", "/api/v1/ops/conv3d", _json(OK_CONV), 404, "Did you mean 'conv2d'"),
    ("wrong-method", "GET", "/api/v1/ops/conv2d", {}, 405, "GET is not allowed"),
    ("wrong-method-health", "POST", "/api/v1/health", {}, 405, "POST is not allowed"),
    ("not-json", "POST", "/api/v1/ops/conv2d", _raw(b"{bad"), 422, "not valid JSON"),
    ("form-media", "POST", "/api/v1/ops/conv2d", _raw(b"a=1", "application/x-www-form-urlencoded"), 415,
     "reads JSON"),
    ("body-too-large", "POST", "/api/v1/ops/conv2d", _raw(b" " * (17 * 1024 * 1024)), 413, "larger than"),
    ("missing-input", "POST", "/api/v1/ops/conv2d", _json({"weight": Z(1, 1, 1, 1)}), 422, "input is required"),
    ("unknown-field", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"strides": 2}), 422, "strides"),
    ("ragged", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"input": [[[[1, 2], [3]]]]}), 422, "ragged"),
    ("empty", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"input": []}), 422, "empty"),
    ("wrong-rank", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"input": Z(4, 4)}), 422, "rank-4"),
    ("string-element", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"input": [[[["a"]]]]}), 422, "number"),
    ("bool-element", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"input": [[[[True]]]]}), 422, "boolean"),
    ("null-element", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"input": [[[[None]]]]}), 422, "null"),
    ("nan", "POST", "/api/v1/ops/conv2d",
     _raw(b'{"input": [[[[NaN, 1], [1, 1]]]], "weight": [[[[1]]]]}'), 422, "finite"),
    ("infinity", "POST", "/api/v1/ops/conv2d",
     _raw(b'{"input": [[[[Infinity]]]], "weight": [[[[1]]]]}'), 422, "finite"),
    ("huge-number", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"input": [[[[1e300]]]]}), 422, "1e100"),
    ("huge-int", "POST", "/api/v1/ops/conv2d", _raw(b'{"input": [[[[' + b"9" * 400 + b']]]], "weight": [[[[1]]]]}'),
     422, "too large"),
    ("channel-mismatch", "POST", "/api/v1/ops/conv2d", _json({"input": Z(1, 3, 4, 4), "weight": Z(1, 2, 3, 3)}), 422,
     "3 / 1 = 3"),
    ("kernel-too-large", "POST", "/api/v1/ops/conv2d", _json({"input": Z(1, 1, 4, 4), "weight": Z(1, 1, 5, 5)}),
     422, "more than the padded input"),
    ("zero-stride", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"stride": 0}), 422, "at least 1"),
    ("negative-dilation", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"dilation": -1}), 422, "at least 1"),
    ("negative-padding", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"padding": -1}), 422, "non-negative"),
    ("string-stride", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"stride": "2"}), 422, "integer"),
    ("bool-stride", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"stride": True}), 422, "integer"),
    ("same-strided", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"padding": "same", "stride": 2}), 422,
     "stride 1"),
    ("groups-divide", "POST", "/api/v1/ops/conv2d", _json({"input": Z(1, 3, 4, 4), "weight": Z(2, 1, 1, 1),
                                                            "groups": 2}), 422, "must divide"),
    ("bias-shape", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"bias": [1, 2]}), 422, "one value per output"),
    ("reflect-too-wide", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"padding": 4, "padding_mode": "reflect"}),
     422, "reflect padding"),
    ("padding-mode", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"padding_mode": "mirror"}), 422, "padding_mode"),
    ("output-padding", "POST", "/api/v1/ops/conv_transpose2d",
     _json(OK_CONV | {"stride": 2, "output_padding": 2}), 422, "smaller than stride (2) or dilation (1)"),
    ("transpose-channels", "POST", "/api/v1/ops/conv_transpose2d",
     _json({"input": Z(1, 2, 3, 3), "weight": Z(1, 1, 3, 3)}), 422, "first dimension (1)"),
    ("pool-padding", "POST", "/api/v1/ops/max_pool2d", _json({"input": Z(1, 1, 5, 5), "kernel_size": 2,
                                                               "padding": 2}), 422, "at most half"),
    ("pool-kernel-missing", "POST", "/api/v1/ops/avg_pool2d", _json({"input": Z(1, 1, 5, 5)}), 422, "kernel_size"),
    ("pool-kernel-too-large", "POST", "/api/v1/ops/max_pool2d", _json({"input": Z(1, 1, 2, 2), "kernel_size": 3}),
     422, "window spans"),
    ("pool-window-only-padding", "POST", "/api/v1/ops/max_pool1d",
     _json({"input": [[[1.0, 2.0]]], "kernel_size": 2, "padding": 1, "dilation": 3, "stride": 1}), 422,
     "reads only padding"),
    ("ceil-mode-type", "POST", "/api/v1/ops/max_pool2d", _json({"input": Z(1, 1, 4, 4), "kernel_size": 2,
                                                                 "ceil_mode": "yes"}), 422, "true or false"),
    ("unpool-indices-range", "POST", "/api/v1/ops/max_unpool2d",
     _json({"input": Z(1, 1, 2, 2), "indices": [[[[0, 1], [2, 16]]]], "kernel_size": 2}), 422, "valid: 0 to 15"),
    ("unpool-indices-negative", "POST", "/api/v1/ops/max_unpool2d",
     _json({"input": Z(1, 1, 2, 2), "indices": [[[[0, 1], [2, -1]]]], "kernel_size": 2}), 422, "outside"),
    ("unpool-indices-float", "POST", "/api/v1/ops/max_unpool2d",
     _json({"input": Z(1, 1, 2, 2), "indices": [[[[0, 1], [2, 1.5]]]], "kernel_size": 2}), 422, "whole numbers"),
    ("unpool-collision", "POST", "/api/v1/ops/max_unpool2d",
     _json({"input": [[[[1, 2], [3, 4]]]], "indices": [[[[0, 0], [2, 3]]]], "kernel_size": 2}), 422,
     "two different values"),
    ("unpool-output-size", "POST", "/api/v1/ops/max_unpool2d",
     _json({"input": Z(1, 1, 2, 2), "indices": [[[[0, 1], [2, 3]]]], "kernel_size": 2, "output_size": [6, 6]}),
     422, "strictly between 2 and 6"),
    ("unpool-indices-shape", "POST", "/api/v1/ops/max_unpool2d",
     _json({"input": Z(1, 1, 2, 2), "indices": [[[[0, 1]]]], "kernel_size": 2}), 422, "input's shape"),
    ("interp-both", "POST", "/api/v1/ops/interpolate", _json({"input": Z(1, 1, 4, 4), "size": 2,
                                                               "scale_factor": 2}), 422, "exactly one"),
    ("interp-zero-scale", "POST", "/api/v1/ops/interpolate", _json({"input": Z(1, 1, 4, 4), "scale_factor": 0.1}),
     422, "floor(4 × 0.1) = 0"),
    ("interp-align", "POST", "/api/v1/ops/interpolate",
     _json({"input": Z(1, 1, 4, 4), "size": 2, "align_corners": True}), 422, "align_corners"),
    ("interp-mode-1d", "POST", "/api/v1/ops/interpolate",
     _json({"input": Z(1, 1, 4), "size": 2, "mode": "bilinear"}), 422, "not available for a 1-D input"),
    ("grad-shape", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"grad_output": Z(1, 1, 3, 3)}), 422,
     "output's shape [1, 1, 2, 2]"),
    ("unknown-extra", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"extras": ["gif"]}), 422, "extras"),
    ("im2col-on-pool", "POST", "/api/v1/ops/max_pool2d",
     _json({"input": Z(1, 1, 4, 4), "kernel_size": 2, "extras": ["im2col"]}), 422, "im2col is defined"),
    ("toeplitz-too-large", "POST", "/api/v1/ops/conv2d",
     _json({"input": Z(1, 1, 40, 40), "weight": Z(1, 1, 3, 3), "extras": ["toeplitz"]}), 413, "Toeplitz"),
    ("output-too-large", "POST", "/api/v1/ops/conv_transpose2d",
     _json({"input": Z(1, 1, 2, 2), "weight": Z(1, 1, 3, 3), "stride": 1, "dilation": 1, "padding": 0,
            "output_padding": 0} | {"input": Z(1, 1, 30, 30), "stride": 80}), 413, "cap"),
    ("input-too-large", "POST", "/api/v1/ops/max_pool2d",
     _raw(b'{"kernel_size": 2, "input": [[' + b",".join([b"[" + b",".join([b"0"] * 1100) + b"]"] * 1000) + b"]]}"),
     413, "cap"),
    ("cuda-absent", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"device": "cuda"}), 422, "computes on cpu"),
    ("dtype", "POST", "/api/v1/ops/conv2d", _json(OK_CONV | {"dtype": "int8"}), 422, "dtype"),
    ("body-not-object", "POST", "/api/v1/ops/conv2d", _json([1, 2, 3]), 422, "body"),
]

PARAMS = [pytest.param(*case[1:], id=case[0]) for case in CASES]


def assert_envelope(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"ok", "status", "error", "errors"}, body
    assert body["ok"] is False and body["status"] == status
    sentence = body["error"]
    assert isinstance(sentence, str) and sentence[0].isalpha(), sentence
    assert sentence.rstrip().endswith((".", "?", ")")), sentence
    assert fragment in sentence, sentence
    assert body["errors"] and all(set(e) == {"loc", "msg"} for e in body["errors"])
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "fragment"), PARAMS)
def test_error_envelope_in_process(client, method, path, kwargs, status, fragment):
    assert_envelope(client.request(method, path, **kwargs), status, fragment)


def test_error_envelope_over_real_http(live_server):
    with httpx.Client(base_url=live_server, timeout=30) as http:
        for case_id, method, path, kwargs, status, fragment in CASES:
            try:
                assert_envelope(http.request(method, path, **kwargs), status, fragment)
            except AssertionError as err:
                raise AssertionError(f"{case_id}: {err}") from err
        assert http.get("/api/v1/health").json()["ok"] is True  # still serving


def test_server_keeps_serving_after_errors(client):
    for _id, method, path, kwargs, _status, _fragment in CASES[:10]:
        client.request(method, path, **kwargs)
    assert client.get("/api/v1/health").status_code == 200


def test_busy_server_sheds_load_with_503(app):
    """Past the queue limit the gate answers 503 with Retry-After, in the envelope."""
    import anyio

    from convscope.compute import ComputeGate, Overloaded

    gate = ComputeGate(concurrency=1, max_queue=0, timeout_s=1)

    async def main() -> None:
        with pytest.raises(Overloaded) as info:
            await gate.run(lambda: None)
        assert info.value.status == 503 and "busy" in info.value.message

    anyio.run(main)
