"""Networks: layers that name their inputs, walked in the order given.

Any layer may carry `name` (unique; default as in a stack, e.g. conv1) and `input` (the name of the
layer it reads, or "input" for the network's input; default the layer before). The merges read several:

    {"op": "add", "inputs": ["conv2", "proj"]}      torch.add: the shapes must be equal exactly
    {"op": "concat", "inputs": ["up1", "conv1"]}    torch.cat on channels: H and W must be equal

A straight stack is the special case where every layer reads the one before. A layer may only read a
layer given before it, so the order given is an order to run them in.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from ..exceptions import InvalidRequest, did_you_mean, unknown_parameter
from .build import (BUILDERS, MAX_LAYERS, _NAME_PREFIX, Layer, _at_layer, _check_magnitudes, _check_result,
                    check_input_shape, shape_text, size_pair)
from .table import LAYER_KEYS, MERGE_OPS, STACK_OPS

INPUT = "input"


def _default_names(layers: list[Any]) -> list[str | None]:
    """Every layer's name as the strict pass will give it, so a forward reference can be named."""
    counters: dict[str, int] = {}
    names: list[str | None] = []
    for raw in layers:
        op = raw.get("op") if isinstance(raw, dict) else None
        if not isinstance(op, str) or op not in _NAME_PREFIX:
            names.append(None)
            continue
        prefix = _NAME_PREFIX[op]
        counters[prefix] = counters.get(prefix, 0) + 1
        name = raw.get("name", f"{prefix}{counters[prefix]}")
        names.append(name if isinstance(name, str) else None)
    return names


def _parse_layer(i: int, raw: Any, counters: dict[str, int]) -> tuple[str, dict[str, Any], str]:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"Layer {i} must be an object like {{\"op\": \"conv2d\", ...}}, got {raw!r}.",
                             ["layers", i])
    op = raw.get("op")
    if not isinstance(op, str) or op not in LAYER_KEYS:
        hint = did_you_mean(op, STACK_OPS, sentence=True)
        extra = " (stacks are 2-D: use the ops endpoint for 1-D ops)" if isinstance(op, str) and "1d" in op else ""
        raise InvalidRequest(f"Layer {i} has op {op!r}, which a stack cannot hold{extra}.{hint} The layer ops are: "
                             f"{', '.join(STACK_OPS)}.", ["layers", i, "op"])
    for key in raw:
        if key not in LAYER_KEYS[op]:
            raise unknown_parameter(f"Layer {i} ({op})", key, LAYER_KEYS[op], ["layers", i, key])
    prefix = _NAME_PREFIX[op]
    counters[prefix] = counters.get(prefix, 0) + 1
    name = raw.get("name", f"{prefix}{counters[prefix]}")
    if not isinstance(name, str) or not name or len(name) > 64:
        raise InvalidRequest(f"Layer {i} ({op}): name must be a string of 1 to 64 characters, got {name!r}.",
                             ["layers", i, "name"])
    return op, {k: v for k, v in raw.items() if k not in ("op", "name", "input", "inputs")}, name


def _op_of(raw: Any) -> str:
    return raw.get("op", "?") if isinstance(raw, dict) else "?"


def _resolve(i: int, op: str, field: str, ref: Any, defined: dict[str, int], names: list[str | None],
             layers: list[Any]) -> int:
    """The entry a reference names: 0 for "input", k + 1 for layer k; refuse what is not defined yet."""
    if not isinstance(ref, str):
        raise InvalidRequest(f"Layer {i} ({op}): {field} must be a layer name (or \"input\"), got {ref!r}.",
                             ["layers", i, field])
    if ref in defined:
        return defined[ref]
    if ref in names[i + 1:]:
        later = names.index(ref, i + 1)
        raise InvalidRequest(f"Layer {i} ({op}) reads {ref!r}, but {ref!r} is layer {later} "
                             f"({_op_of(layers[later])}), defined after it: "
                             f"a layer may only read the network's input or a layer given before it.",
                             ["layers", i, field])
    hint = did_you_mean(ref, defined, sentence=True)
    raise InvalidRequest(f"Layer {i} ({op}) reads {ref!r}, which names no layer before it.{hint} The names so far "
                         f"are: {', '.join(defined)}.", ["layers", i, field])


def _merge(i: int, op: str, name: str, inputs: list[tuple[str, tuple[int, ...]]]) -> Layer:
    (first, shape), rest = inputs[0], inputs[1:]
    for other, other_shape in rest:
        if op == "add" and other_shape != shape:
            raise InvalidRequest(f"Layer {i} (add): {first!r} is {shape_text(shape)} but {other!r} is "
                                 f"{shape_text(other_shape)}; add needs equal shapes (torch.add does not "
                                 f"broadcast here).", ["layers", i, "inputs"])
        if op == "concat" and (len(other_shape) != 3 or len(shape) != 3 or other_shape[1:] != shape[1:]):
            raise InvalidRequest(f"Layer {i} (concat): {first!r} is {shape_text(shape)} but {other!r} is "
                                 f"{shape_text(other_shape)}; concat joins channels of C×H×W maps whose H and W "
                                 f"are equal.", ["layers", i, "inputs"])
    if op == "add":
        return Layer(i, op, name, {}, shape, shape, 0, 0, f"unchanged: {shape_text(shape)}", "no parameters")
    channels = [s[0] for _, s in inputs]
    out = (sum(channels), *shape[1:])
    return Layer(i, op, name, {}, shape, out, 0, 0, f"{' + '.join(map(str, channels))} = {out[0]} channels",
                 "no parameters")


Prepare = Callable[[int, dict[str, Any], tuple[int, ...], list[Layer]], dict[str, Any]]


def walk(input_shape: Any, layers: Any, prepare: Prepare | None = None) -> list[Layer]:
    """Check every layer in order and return its shapes, params, MACs and formula; refuse the first
    impossible layer with a sentence that starts "Layer i (op): " and names the constraint.

    prepare(i, raw, input shape, layers so far), when given, turns a caller's own form of a (non-merge)
    layer into this table's form before it is checked (the lab's named kernels, `mode`, `from`)."""
    shape: tuple[int, ...] = check_input_shape(input_shape)
    if not isinstance(layers, list):
        raise InvalidRequest(f"layers must be a list of layer objects, got {type(layers).__name__}.", ["layers"])
    if len(layers) > MAX_LAYERS:
        raise InvalidRequest(f"A stack may have at most {MAX_LAYERS} layers; this one has {len(layers)}.",
                             ["layers"])
    names = _default_names(layers)
    shapes_of: list[tuple[int, ...]] = [shape]  # per entry
    defined: dict[str, int] = {INPUT: 0}
    counters: dict[str, int] = {}
    out: list[Layer] = []
    previous = INPUT
    for i, raw in enumerate(layers):
        if prepare is not None and isinstance(raw, dict) and raw.get("op") in LAYER_KEYS \
                and raw["op"] not in MERGE_OPS:
            source = _resolve(i, raw["op"], "input", raw.get("input", previous), defined, names, layers)
            raw = prepare(i, raw, shapes_of[source], out)
        op, args, name = _parse_layer(i, raw, counters)
        if name in defined:
            where = "the network's input" if name == INPUT else f"layer {defined[name] - 1}"
            raise InvalidRequest(f"Layer {i} ({op}) is named {name!r}, but {where} already has that name; names "
                                 f"must be unique.", ["layers", i, "name"])
        if op in MERGE_OPS:
            refs = raw.get("inputs")
            if not isinstance(refs, list) or len(refs) < 2:
                raise InvalidRequest(f"Layer {i} ({op}): inputs must list two or more layer names, got {refs!r}.",
                                     ["layers", i, "inputs"])
            if len(refs) > MAX_LAYERS:
                raise InvalidRequest(f"Layer {i} ({op}): inputs may list at most {MAX_LAYERS} names.",
                                     ["layers", i, "inputs"])
            sources = [_resolve(i, op, "inputs", ref, defined, names, layers) for ref in refs]
            layer = _merge(i, op, name, [(ref, shapes_of[s]) for ref, s in zip(refs, sources)])
            _check_result(layer)
            refs_t = tuple(refs)
        else:
            ref = raw.get("input", previous)
            sources = [_resolve(i, op, "input", ref, defined, names, layers)]
            shape = shapes_of[sources[0]]
            try:
                _check_magnitudes(args)
                layer = BUILDERS[op](i, op, name, args, shape)
                _check_result(layer)
            except InvalidRequest as exc:
                raise _at_layer(i, op, shape, exc) from None
            refs_t = (ref,)
        layer = _with_inputs(layer, refs_t, tuple(sources))
        out.append(layer)
        defined[name] = i + 1
        shapes_of.append(layer.output_shape)
        previous = name
    return out


def _with_inputs(layer: Layer, inputs: tuple[str, ...], sources: tuple[int, ...]) -> Layer:
    return replace(layer, inputs=inputs, sources=sources)


def summarize(input_shape: Any, layers: Any, input_size: Any = None) -> dict[str, Any]:
    """The /shapes response body (without "ok"). input_size, when given (as in a preset), must agree."""
    stack = walk(input_shape, layers)
    if input_size is not None and size_pair(input_size) != tuple(input_shape[1:]):
        raise InvalidRequest(f"input_size {input_size!r} disagrees with input_shape {list(input_shape)} (its H and W).",
                             ["input_size"])
    final = stack[-1].output_shape if stack else tuple(input_shape)
    return {"input_shape": list(input_shape), "layers": [layer.to_json() for layer in stack],
            "output_shape": list(final), "total_params": sum(layer.params for layer in stack),
            "total_macs": sum(layer.macs for layer in stack)}
