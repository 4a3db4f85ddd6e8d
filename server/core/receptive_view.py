"""What /receptive-field draws, in one answer (POST /api/v1/views/receptive-field).

The page draws a network's table, one unit, and that unit's field on every level below it: on the input, and on
each layer's output that changes n, j, r or start (or merges paths) on the way up. A level's field is the answer of
/receptive-field for the part of the network between that level and the unit, with the level's output as input; a
unit on a merge also gets its field through each of the merge's inputs. Each of those depends on the unit, which
depends on the network's own answer, so asked one by one they took the page two rounds of requests; here they are
worked out together, each exactly what /receptive-field answers for its body (the tests check that).
"""
from __future__ import annotations

from typing import Any

from convscope.core.exceptions import ConvscopeError, InvalidRequest, unknown_parameter
from convscope.core.layers import summarize
from convscope.core.receptive import input_shape_of, receptive_field
from convscope.core.stack_code import stack_code

DEEP = 12  # levels on a path below the unit: past this many, its field is drawn on the input only
UNIT_KEYS = ("layer", "y", "x")


def graph_of(shapes: dict[str, Any]) -> tuple[list[str], list[list[int]]]:
    """Entry k's name (entry 0 is the input) and the entries it reads, from a /shapes answer."""
    names = ["input", *(layer["name"] for layer in shapes["layers"])]
    index = {n: i for i, n in enumerate(names)}
    sources = [[], *([index[n] for n in layer.get("inputs") or []] for layer in shapes["layers"])]
    return names, sources


def ancestors(sources: list[list[int]], k: int) -> set[int]:
    """The entries whose output reaches entry k, k included."""
    seen, todo = {k}, [k]
    while todo:
        for s in sources[todo.pop()]:
            if s not in seen:
                seen.add(s)
                todo.append(s)
    return seen


def drawable(rf: dict[str, Any]) -> int:
    """Entries before this index have units on a grid (flatten and linear end it)."""
    return next((k for k, e in enumerate(rf["layers"]) if e["op"] in ("flatten", "linear")), len(rf["layers"]))


def levels_of(rf: dict[str, Any], sources: list[list[int]]) -> list[int]:
    """The entries worth drawing: the input, and every layer that changes n, j, r or start or merges paths
    (compared with what it reads), up to the first flatten or linear."""
    keys = ("n", "j", "r", "start")
    out = [0]
    for k in range(1, drawable(rf)):
        src = sources[k]
        if len(src) != 1 or any(rf["layers"][k][key] != rf["layers"][src[0]][key] for key in keys):
            out.append(k)
    return out


def between(names: list[str], sources: list[list[int]], layers: list[dict[str, Any]], k: int, top: int
            ) -> list[dict[str, Any]]:
    """The layers on the paths from entry k up to entry top, each named as the server named it, reading "input" where
    it read entry k. A merge left with one input on those paths passes it through unchanged (a dropout, which moves
    no unit); channel counts are left to be inferred."""
    above = ancestors(sources, top)
    reached = {k}
    for i in range(k + 1, top + 1):
        if any(s in reached for s in sources[i]):
            reached.add(i)

    def ref(s: int) -> str:
        return "input" if s == k else names[s]

    out: list[dict[str, Any]] = []
    for i in range(k + 1, top + 1):
        if i not in reached or i not in above:
            continue
        reads = [s for s in sources[i] if s in reached]
        raw = layers[i - 1]
        rest = {key: v for key, v in raw.items()
                if key not in ("in_channels", "num_features", "in_features", "input", "inputs")}
        if isinstance(raw.get("inputs"), list) and len(reads) >= 2:
            out.append({**rest, "name": names[i], "inputs": [ref(s) for s in reads]})
        elif isinstance(raw.get("inputs"), list):
            out.append({"op": "dropout", "name": names[i], "input": ref(reads[0])})
        else:
            out.append({**rest, "name": names[i], "input": ref(reads[0])})
    return out


def nearest_merge(sources: list[list[int]], k: int) -> int:
    """The merge a unit of entry k sits on: k itself, or the first merge below it along one-input layers; -1 if
    none."""
    e = k
    while e > 0 and len(sources[e]) == 1:
        e = sources[e][0]
    return e if e > 0 else -1


def _unit(given: dict[str, Any], rf: dict[str, Any], top: int, pickable: int) -> dict[str, int]:
    """The unit asked for, where it lies in the network; else the centre unit of the top level (a link's unit that
    no longer fits the network it names falls back, part by part, as the page did)."""
    def fits(v: Any, limit: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < limit

    layer = given.get("layer")
    layer = layer if fits(layer, pickable) else top
    n = rf["layers"][layer]["n"]
    y, x = given.get("y"), given.get("x")
    return {"layer": layer, "y": y if fits(y, n[0]) else n[0] // 2, "x": x if fits(x, n[1]) else n[1] // 2}


def receptive_view(body: dict[str, Any], limits: Any = None, device: Any = None) -> dict[str, Any]:
    """The answer's body (without "ok"): `shapes` and `receptive_field` (with `pytorch`), as /shapes and
    /receptive-field answer for the network; `unit`; `levels` drawn, `pickable` (entries below it have units on a
    grid: those before the first flatten or linear), `deep`; `fields` (per level below the unit
    that is drawn, /receptive-field's answer for the part between, with `effective` on the input when asked, or
    `effective_error` where measuring it was refused); `paths` (through each input of the unit's merge)."""
    given_unit = body.get("unit") or {}
    if not isinstance(given_unit, dict):
        raise InvalidRequest(f"unit must be an object such as {{\"layer\": 3, \"y\": 0, \"x\": 0}}, not "
                             f"{str(given_unit)[:40]!r}.", ["unit"])
    unknown = sorted(set(given_unit) - set(UNIT_KEYS))
    if unknown:
        raise unknown_parameter("unit", unknown[0], UNIT_KEYS, ["unit", unknown[0]])
    layers, input_shape = body["layers"], body["input_shape"]
    shapes = summarize(input_shape, layers)
    rf = receptive_field(None, layers, None, input_shape)
    shape = list(input_shape_of(None, input_shape, layers))
    rf["pytorch"] = stack_code(shape, layers)
    names, sources = graph_of(shapes)
    every = levels_of(rf, sources)
    top, pickable = every[-1], drawable(rf)
    unit = _unit(given_unit, rf, top, pickable)
    at = unit["layer"]
    feeding = ancestors(sources, at)
    path = [k for k in every if k < at and k in feeding]
    below = [0] if len(path) > DEEP else path
    levels = sorted({*below, at, top})

    def field_in(k: int) -> dict[str, Any]:
        sub = between(names, sources, layers, k, at)
        given = shape if k == 0 else shapes["layers"][k - 1]["output_shape"]
        where = {"layer": len(sub), "y": unit["y"], "x": unit["x"]}
        if k == 0 and body.get("effective"):
            try:
                return receptive_field(None, sub, where, given, {"weights": "constant", "channels": 1})
            except ConvscopeError as exc:  # too costly to measure: the arithmetic field alone, and why
                return {**receptive_field(None, sub, where, given), "effective_error": exc.message}
        return receptive_field(None, sub, where, given)

    def through(m: int) -> list[dict[str, Any]]:
        out = []
        for s in sources[m]:
            sub = [{"op": "dropout", "name": layer["name"], "input": "input" if s == 0 else names[s]}
                   if layer["name"] == names[m] else layer for layer in between(names, sources, layers, 0, at)]
            res = receptive_field(None, sub, {"layer": len(sub), "y": unit["y"], "x": unit["x"]}, shape)
            out.append({"merge": names[m], "via": names[s], "r": res["layers"][-1]["r"], "clipped": res["clipped"]})
        return out

    merge = nearest_merge(sources, at) if at else -1
    return {"shapes": shapes, "receptive_field": rf, "unit": unit, "levels": levels, "pickable": pickable,
            "deep": len(path) if len(path) > DEEP else 0,
            "fields": [{"level": k, **field_in(k)} for k in below],
            "paths": through(merge) if merge >= 0 else []}
