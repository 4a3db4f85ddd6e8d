"""A misspelt key in any JSON body is answered with the key it was probably meant to be.

The names come from /openapi.json (what the API publishes), not from the server's models, and the typo is made
by the test: every property of every JSON request body, top level and one level down, with its last letter
doubled, put in place of the key it misspells in a body that is valid without it (the endpoint's own example).
Where the intended key is required, the misspelling is the envelope's lead sentence: it says what to fix, where
"kernel_size is required." would not.
"""
from __future__ import annotations

import difflib

import pytest
from fastapi.testclient import TestClient

from convscope.app import create_app


def _schemas() -> tuple[dict, dict]:
    with TestClient(create_app()) as c:
        spec = c.get("/openapi.json").json()
    return spec["paths"], spec["components"]["schemas"]


PATHS, SCHEMAS = _schemas()


def _resolve(schema: dict) -> dict | None:
    """An object schema with properties behind a $ref, or inside anyOf/allOf (Optional fields); else None."""
    if "$ref" in schema:
        return _resolve(SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]])
    if schema.get("properties"):
        return schema
    for key in ("anyOf", "allOf", "oneOf"):
        for part in schema.get(key, []):
            if (found := _resolve(part)) is not None:
                return found
    return None


# Valid bodies for the endpoints whose OpenAPI entry has no example; each nested object that a case misspells a
# key of starts from the body's own value (or from OBJECTS) so that the misspelling is its only fault.
SAMPLE = {"sample": "camera"}
BASES = {
    "/api/v1/pipeline": {"image": SAMPLE, "layers": [{"op": "relu"}]},
    "/api/v1/pipeline/probe": {"image": SAMPLE, "layers": [{"op": "relu"}], "unit": {"layer": 0, "y": 1, "x": 1}},
    "/api/v1/effective-field/depth": {},
    "/api/v1/effective-field/compare-stacks": {},
    "/api/v1/fully-convolutional": {},
    "/api/v1/equivariance": {},
}
OBJECTS = {"unit": {"layer": 0, "y": 0, "x": 0}}
# a nested object that replaces part of the base: a model brings its own layers
INSTEAD = {"model": ("layers", {"id": "alexnet"})}


def _bodies() -> list[tuple[str, dict, dict]]:
    out = []
    for path, item in PATHS.items():
        content = item.get("post", {}).get("requestBody", {}).get("content", {})
        if "{" not in path and "application/json" in content:
            examples = content["application/json"].get("examples") or {}
            base = next(iter(examples.values()))["value"] if examples else BASES.get(path)
            if (schema := _resolve(content["application/json"]["schema"])) is not None and base is not None:
                out.append((path, schema, base))
    return out


def _misspelt(obj: dict, name: str, typo: str) -> dict:
    """obj with `typo` in place of `name` (which it may or may not have held)."""
    return {**{k: v for k, v in obj.items() if k != name}, typo: 0}


def _body(base: dict, outer: list[str], name: str, typo: str) -> dict:
    if not outer:
        return _misspelt(base, name, typo)
    (key,) = outer
    drop, given = INSTEAD.get(key, (None, OBJECTS.get(key, {})))
    return {**{k: v for k, v in base.items() if k != drop}, key: _misspelt(base.get(key, given), name, typo)}


def _cases() -> list[pytest.param]:
    cases = []
    for path, schema, base in _bodies():
        names = sorted(schema["properties"])
        for name in names:
            typo = name + name[-1]
            if len(name) >= 4 and difflib.get_close_matches(typo, names, n=1) == [name]:
                cases.append(pytest.param(path, _body(base, [], name, typo), name, typo, name in schema.get("required", []),
                                          id=f"{path}:{typo}"))
            inner = _resolve(schema["properties"][name])
            given = base.get(name, OBJECTS.get(name))
            if inner is None or not isinstance(given, dict) and given is not None:
                continue
            inner_names = sorted(inner["properties"])
            for sub in inner_names:
                typo = sub + sub[-1]
                if len(sub) >= 4 and difflib.get_close_matches(typo, inner_names, n=1) == [sub]:
                    cases.append(pytest.param(path, _body(base, [name], sub, typo), sub, typo, False,
                                              id=f"{path}:{name}.{typo}"))
    return cases


CASES = _cases()


def test_the_table_reaches_every_kind_of_body():
    paths = {c.values[0] for c in CASES}
    assert {"/api/v1/ops/conv2d", "/api/v1/pipeline", "/api/v1/views/transpose", "/api/v1/equivariance"} <= paths
    assert any("." in c.id.split(":", 1)[1] for c in CASES), "no nested key was tried"
    assert len(CASES) > 60


def test_the_bases_are_valid(client):
    for path, _, base in _bodies():
        r = client.post(path, json=base)
        assert r.status_code == 200, (path, r.text)


@pytest.mark.parametrize(("path", "body", "name", "typo", "required"), CASES)
def test_a_misspelt_key_gets_the_name_it_meant(client, path, body, name, typo, required):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    envelope = r.json()
    assert envelope["ok"] is False
    meant = f"did you mean {name!r}"
    said = [e["msg"] for e in envelope["errors"] if typo in e["msg"] and meant in e["msg"]]
    assert said, envelope
    if required:
        assert typo in envelope["error"] and meant in envelope["error"], envelope
