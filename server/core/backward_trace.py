"""The backward trace: every term of grad_input, grad_weight and grad_bias, cell by cell.

For y = conv2d(x, w) (cross-correlation, stride s, padding p, dilation d, groups g) and a given
grad_output G = ∂L/∂y, the chain rule sums one product per (output cell, kernel tap) that read a cell:

    grad_input[n, c, i]     = Σ  G[n, o, p] · w[o, c − g·C_in/g, k]   over every (o, p, k) with p·s − pad + k·d = i
                                                                     (the transposed convolution of G with w)
    grad_weight[o, c', k]   = Σ  G[n, o, p] · x[n, c, p·s − pad + k·d] over n and every output position p
                                                                     (the correlation of x with G)
    grad_bias[o]            = Σ  G[n, o, p]                         over n and every output position p

A tap that reads zero padding sends its gradient nowhere (the padding is a constant); with reflect,
replicate or circular padding the padded cell is a copy, so its gradient goes to the real cell it copies.
Max pooling routes G[n, c, p] to the one input cell torch's indices name (ties: torch's choice, the first
maximum in row-major order on the CPU; the term lists the tied cells as `tied_with`); average
pooling sends G[n, c, p] / divisor to every real cell of the window, with torch's divisor.

Only lookups here: the values themselves are autograd's (ops.run_op), and the tests re-sum the terms.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .exceptions import InvalidRequest
from .geometry import _avg_divisor, _source_maps
from .limits import Limits, check_cap, numel
from .matrices import taps_per_cell

FAMILIES = ("conv", "max_pool", "avg_pool")


def check(op: str, family: str, spec: Any, has_grad_output: bool, out_shape: tuple[int, ...], limits: Limits) -> None:
    """Refuse before computing: the trace needs grad_output, exists for conv and pooling, and has a cap."""
    if family not in FAMILIES:
        raise InvalidRequest(f"backward_trace is defined for conv1d/2d, max_pool1d/2d and avg_pool1d/2d, not {op}.",
                             ["extras"])
    if not has_grad_output:
        raise InvalidRequest(f"backward_trace lists the terms of the gradients, so {op} needs grad_output too "
                             f"(shaped like the output, {list(out_shape)}).", ["grad_output"])
    terms = numel(out_shape) * taps_per_cell(family, spec) * (2 if family == "conv" else 1)
    check_cap(terms, limits.max_trace_terms, "The backward trace", "extras",
              " terms (use a smaller input for the animation)")


def _positions(shape: tuple[int, ...]) -> itertools.product:
    return itertools.product(*(range(v) for v in shape))


def backward_trace(op: str, family: str, spec: Any, x: np.ndarray, tensors: dict[str, np.ndarray],
                   result: dict[str, Any], grad_output: np.ndarray) -> dict[str, Any]:
    header: dict[str, Any] = {"op": op, "input_shape": list(x.shape), "output_shape": list(grad_output.shape)}
    if family == "conv":
        return header | _conv(spec, x, tensors, result, grad_output)
    return header | _pool(spec, x, result, grad_output)


def _cells(shape: tuple[int, ...], values: np.ndarray) -> dict[tuple[int, ...], dict[str, Any]]:
    return {pos: {"at": list(pos), "value": float(values[pos]), "terms": []} for pos in _positions(shape)}


def _conv(spec: Any, x: np.ndarray, tensors: dict[str, np.ndarray], result: dict[str, Any],
          g: np.ndarray) -> dict[str, Any]:
    w = tensors["weight"]
    maps = _source_maps(spec)
    lows = [lo for lo, _ in spec.padding]
    c_in_group = spec.input_shape[1] // spec.groups
    c_out_group = spec.output_shape[1] // spec.groups
    inputs = _cells(x.shape, result["grad_input"])
    weights = _cells(w.shape, result["grad_weight"])
    for n, o, *pos in _positions(spec.output_shape):
        out = [n, o, *pos]
        gv = float(g[tuple(out)])
        group = o // c_out_group
        for c_local in range(c_in_group):
            c = group * c_in_group + c_local
            for tap in _positions(spec.kernel):
                coord = [p * s - lo + k * d for p, s, lo, k, d in zip(pos, spec.stride, lows, tap, spec.dilation)]
                src = [int(m[cv + lo]) for m, cv, lo in zip(maps, coord, lows)]
                if any(v < 0 for v in src):
                    continue  # zero padding: a constant, no gradient flows
                inside = all(0 <= cv < size for cv, size in zip(coord, spec.input_shape[2:]))
                wkey = (o, c_local, *tap)
                wv = float(w[wkey])
                xkey = (n, c, *src)
                xv = float(x[xkey])
                term = {"out": out, "tap": list(wkey), "grad_output": gv, "weight": wv, "product": gv * wv}
                if not inside:
                    term["via_padding"] = [c, *coord]  # the padded copy this tap read
                inputs[xkey]["terms"].append(term)
                weights[wkey]["terms"].append({"out": out, "input": list(xkey), "input_value": xv,
                                               "grad_output": gv, "product": gv * xv})
    trace: dict[str, Any] = {
        "family": "conv", "weight_shape": list(w.shape), "stride": list(spec.stride),
        "padding": [list(p) for p in spec.padding], "padding_mode": spec.padding_mode,
        "dilation": list(spec.dilation), "groups": spec.groups,
        "grad_input": list(inputs.values()), "grad_weight": list(weights.values())}
    if "grad_bias" in result:
        bias = []
        for o in range(spec.output_shape[1]):
            terms = [{"out": [n, o, *pos], "grad_output": float(g[(n, o, *pos)])}
                     for n, _, *pos in _positions((spec.output_shape[0], 1, *spec.output_shape[2:]))]
            bias.append({"at": [o], "value": float(result["grad_bias"][o]), "terms": terms})
        trace["grad_bias"] = bias
    return trace


def _window_maxima(spec: Any, x: np.ndarray, n: int, c: int, pos: list[int]) -> list[list[int]]:
    """The window's cells (row-major) holding its maximum: more than one is a tie, which torch's index breaks."""
    size = spec.input_shape[2:]
    window = []
    for tap in _positions(spec.kernel):
        coord = [p * s - pad + k * d for p, s, pad, k, d in zip(pos, spec.stride, spec.padding, tap, spec.dilation)]
        if all(0 <= cv < n_ for cv, n_ in zip(coord, size)):
            window.append(coord)
    top = max(float(x[(n, c, *cv)]) for cv in window)
    return [cv for cv in window if float(x[(n, c, *cv)]) == top]


def _pool(spec: Any, x: np.ndarray, result: dict[str, Any], g: np.ndarray) -> dict[str, Any]:
    size = spec.input_shape[2:]
    inputs = _cells(tuple(spec.input_shape), result["grad_input"])
    indices = result.get("indices")
    for n, c, *pos in _positions(spec.output_shape):
        out = [n, c, *pos]
        gv = float(g[tuple(out)])
        if spec.kind == "max":
            flat = int(indices[tuple(out)])
            target = tuple(int(t) for t in np.unravel_index(flat, size))
            term = {"out": out, "grad_output": gv, "index": flat, "product": gv}
            maxima = _window_maxima(spec, x, n, c, pos)
            if len(maxima) > 1:
                term["tied_with"] = maxima  # every cell holding the maximum; the gradient goes to `index` only
            inputs[(n, c, *target)]["terms"].append(term)
            continue
        starts = [p * s - pad for p, s, pad in zip(pos, spec.stride, spec.padding)]
        divisor = _avg_divisor(spec, starts)
        for tap in _positions(spec.kernel):
            coord = [st + k for st, k in zip(starts, tap)]
            if all(0 <= cv < n_ for cv, n_ in zip(coord, size)):
                inputs[(n, c, *coord)]["terms"].append({"out": out, "tap": list(tap), "grad_output": gv,
                                                        "divisor": divisor, "product": gv / divisor})
    trace = {"family": spec.kind + "_pool", "stride": list(spec.stride), "padding": [[p, p] for p in spec.padding],
             "kernel_size": list(spec.kernel), "ceil_mode": spec.ceil_mode, "grad_input": list(inputs.values())}
    if spec.kind == "max":
        trace["dilation"] = list(spec.dilation)
    else:
        trace |= {"count_include_pad": spec.count_include_pad, "divisor_override": spec.divisor_override}
    return trace
