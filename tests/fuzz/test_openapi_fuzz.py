"""Schemathesis against /openapi.json, in-process: every operation, valid and invalid requests.

Each generated request must get no 5xx, a documented status code, the documented content type,
and a body that matches the documented response model (the error envelope included). The run is
deterministic (fixed seed, derandomized Hypothesis) and counts its cases (tally.py).
"""
from __future__ import annotations

from collections import Counter

import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from convscope.app import create_app
from convscope.settings import Settings

#: Operations left out of the fuzz run until what it found is fixed; remove an entry once its operation passes.
EXCLUDED_OPERATIONS: list[str] = []

SEED = 20240601
#: Hypothesis examples per operation in the fuzzing phase (fewer where there is little to vary); the
#: coverage phase adds its own deterministic boundary cases, about 2,700 of the run's total.
MAX_EXAMPLES = 100

# Small caps keep valid requests cheap: a sample image is 32 px, a tensor at most 2,048 values.
SETTINGS = Settings(device="cpu", torch_threads=1, image_max_side=32, image_max_pixels=1_000_000,
                    image_cache_bytes=8 * 1024 * 1024, max_body_bytes=256 * 1024, max_upload_bytes=256 * 1024,
                    max_input_elements=2_048, max_output_elements=8_192, max_toeplitz_entries=8_192,
                    max_trace_terms=8_192, max_im2col_elements=8_192, max_queue=10_000, queue_timeout_s=120.0)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

_CONFIG = SchemathesisConfig.from_dict({
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
})
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", create_app(SETTINGS), config=_CONFIG).exclude(
    name=EXCLUDED_OPERATIONS)
#: What a full run fuzzes (tally.py checks the case count only when all of them ran).
FUZZED_OPERATIONS = [op.ok().label for op in SCHEMA.get_all_operations()]


@SCHEMA.parametrize()
def test_openapi(case: Case, fuzz_tally: Counter[str]) -> None:
    fuzz_tally[case.operation.label] += 1
    case.call_and_validate(checks=CHECKS)
