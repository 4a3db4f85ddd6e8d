"""Every request example published in /openapi.json posts unchanged and answers 200.

The fuzz run starts its near-valid cases from these examples, and /docs readers copy them.
"""
from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from convscope.app import create_app
from convscope.core.ops import OPS
from convscope.settings import Settings

_SPEC = create_app(Settings(device="cpu")).openapi()


def _examples() -> list[Any]:
    found = []
    for path, methods in _SPEC["paths"].items():
        for method, operation in methods.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            for name, example in media.get("examples", {}).items():
                found.append(pytest.param(method, path, example["value"], id=f"{method.upper()} {path} {name}"))
    return found


EXAMPLES = _examples()


def test_every_json_endpoint_of_the_contract_has_an_example() -> None:
    documented = {p.values[1] for p in EXAMPLES}
    wanted = {*(f"/api/v1/ops/{op}" for op in OPS), "/api/v1/shapes", "/api/v1/receptive-field",
              "/api/v1/exercises", "/api/v1/exercises/grade", "/api/v1/views/transpose"}
    assert wanted <= documented, sorted(wanted - documented)


@pytest.mark.parametrize(("method", "path", "body"), EXAMPLES)
def test_example_answers_200(client: TestClient, method: str, path: str, body: dict[str, Any]) -> None:
    response = client.request(method.upper(), path, json=body)
    assert response.status_code == 200, response.text[:400]
    assert response.json()["ok"] is True
