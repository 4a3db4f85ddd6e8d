"""A block's maps written at once (MapStack) say exactly what one EncodedMap per channel says."""
from __future__ import annotations

import base64

import numpy as np
import orjson
import pytest

from convscope.core.encoding import encode_feature_maps, encode_stack
from convscope.core.mapstack import base64_rows
from convscope.core.pipeline_run import PipelineRun, run_pipeline
from convscope.responses import JSONResponse


@pytest.mark.parametrize("n", range(1, 10))
def test_base64_of_every_row_at_once_is_each_row_s_own(n: int) -> None:
    rows = np.random.default_rng(n).integers(0, 256, (4, n), dtype=np.uint8)
    assert base64_rows(rows) == [base64.b64encode(r.tobytes()).decode("ascii") for r in rows]


@pytest.mark.parametrize("encoding", ["raw", "png", "f32"])
@pytest.mark.parametrize(("shape", "max_side"), [((5, 7, 11), 4), ((3, 9, 9), 256), ((1, 1, 7), 3),
                                                  ((16, 20, 20), 8), ((2, 10, 10), 1)])
def test_a_stack_writes_what_its_maps_write(encoding: str, shape: tuple[int, ...], max_side: int) -> None:
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    x[0, 0, 0] = np.nan
    stack = encode_stack(x, max_side=max_side, encoding=encoding)  # type: ignore[arg-type]
    maps = encode_feature_maps(x, max_side=max_side, encoding=encoding)  # type: ignore[arg-type]
    assert [m.as_dict() for m in stack.maps()] == [m.as_dict() for m in maps]
    assert stack.as_dicts() == [m.as_dict() for m in maps]
    assert stack.headers() == [m.header() for m in maps]
    assert stack.payload() == ([len(m.data) for m in maps], b"".join(m.data for m in maps))
    assert stack.as_json() == orjson.dumps([m.as_dict() for m in maps])


def test_a_pipeline_s_json_is_the_same_bytes_written_either_way() -> None:
    img = np.random.default_rng(3).random((3, 40, 30), dtype=np.float32)
    layers = [{"op": "conv2d", "kernel": "random", "seed": 1, "out_channels": 5, "padding": 1}, {"op": "relu"},
              {"op": "max_pool2d"}, {"op": "flatten"}, {"op": "linear", "out_features": 7}]
    for encoding in ("raw", "png", "f32"):
        plain = run_pipeline(img, layers, max_side=16, encoding=encoding)
        assert plain["layers"][0]["maps"][0]["encoding"] == encoding  # dicts, for callers that read them
        written = run_pipeline(img, layers, max_side=16, encoding=encoding, fragment=True)
        assert JSONResponse(written).body == JSONResponse(plain).body
        blocks = PipelineRun(img, layers, max_side=16, encoding=encoding).blocks()
        assert plain["layers"] == [b.as_dict() for b in blocks[1:]]


@pytest.mark.parametrize("encoding", ["raw", "png", "f32"])
def test_a_stream_frame_s_map_headers_are_the_same_bytes_written_either_way(encoding: str) -> None:
    x = np.random.default_rng(5).standard_normal((6, 13, 9)).astype(np.float32)
    stack = encode_stack(x, max_side=8, encoding=encoding)  # type: ignore[arg-type]
    lengths, payload = stack.payload()
    heads, offset = stack.headers(), 0
    for head, length in zip(heads, lengths):
        head["offset"], head["length"] = offset, length
        offset += length
    assert offset == len(payload)
    assert stack.frame_json() == orjson.dumps(heads)
