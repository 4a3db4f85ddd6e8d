"""The trace: for each output cell, the input cells it reads, the kernel tap
for each, whether the cell is padding, and the product terms.

Computed once, here; the page animates it and repeats no arithmetic.
Coordinates in `reads` are in the unpadded input frame: a padding cell has a
coordinate below 0 or past the edge. For reflect/replicate/circular padding,
`source` names the real cell whose value the padding copies.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .layers.forward import resample_matrix
from .shapes import ConvSpec, InterpolateSpec, PoolSpec


def trace(op: str, family: str, spec: Any, x: np.ndarray, tensors: dict[str, np.ndarray],
          result: dict[str, Any]) -> dict[str, Any]:
    out = result["output"]
    header: dict[str, Any] = {"op": op, "input_shape": list(x.shape), "output_shape": list(out.shape),
                              "cross_correlation": family == "conv"}
    if family == "conv":
        cells = list(_conv_cells(spec, x, tensors["weight"], tensors.get("bias"), out))
        header |= {"padding": [list(p) for p in spec.padding], "padding_mode": spec.padding_mode,
                   "stride": list(spec.stride), "dilation": list(spec.dilation), "groups": spec.groups}
    elif family == "conv_transpose":
        cells = list(_conv_transpose_cells(spec, x, tensors["weight"], tensors.get("bias"), out))
        header |= {"padding": [list(p) for p in spec.padding], "stride": list(spec.stride),
                   "dilation": list(spec.dilation), "groups": spec.groups,
                   "output_padding": list(spec.output_padding)}
    elif family in ("max_pool", "avg_pool"):
        cells = list(_pool_cells(spec, x, out, result.get("indices")))
        header |= {"padding": [[p, p] for p in spec.padding], "stride": list(spec.stride),
                   "dilation": list(spec.dilation), "ceil_mode": spec.ceil_mode}
    elif family == "max_unpool":
        cells = list(_unpool_cells(spec, x, tensors["indices"], out))
    else:
        cells = list(_interpolate_cells(spec, x, out))
    header["cells"] = cells
    return header


def _positions(shape: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(v) for v in shape))


def _source_maps(spec: ConvSpec) -> list[np.ndarray]:
    """Per axis: padded position -> the real index its value comes from (-1 for zero padding).
    The modes are separable, so padding an index ramp with torch's own F.pad gives the map."""
    maps = []
    for n, (lo, hi) in zip(spec.input_shape[2:], spec.padding):
        ramp = torch.arange(n, dtype=torch.float64).reshape(1, 1, n)
        if spec.padding_mode == "zeros":
            padded = F.pad(ramp, (lo, hi), mode="constant", value=-1.0)
        else:
            padded = F.pad(ramp, (lo, hi), mode=spec.padding_mode)
        maps.append(padded.reshape(-1).numpy().astype(np.int64))
    return maps


def _conv_cells(spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                out: np.ndarray) -> Iterator[dict[str, Any]]:
    maps = _source_maps(spec)
    lows = [lo for lo, _ in spec.padding]
    c_in_group = spec.input_shape[1] // spec.groups
    c_out_group = spec.output_shape[1] // spec.groups
    copied = spec.padding_mode != "zeros"
    for n, o, *pos in _positions(spec.output_shape):
        g = o // c_out_group
        reads, taps, pads, sources, inputs, weights = [], [], [], [], [], []
        for c_local in range(c_in_group):
            c = g * c_in_group + c_local
            for tap in _positions(spec.kernel):
                coord = [p * s - lo + k * d for p, s, lo, k, d in zip(pos, spec.stride, lows, tap, spec.dilation)]
                src = [int(m[cv + lo]) for m, cv, lo in zip(maps, coord, lows)]
                inside = all(0 <= cv < size for cv, size in zip(coord, spec.input_shape[2:]))
                value = float(x[(n, c, *src)]) if all(s >= 0 for s in src) else 0.0
                reads.append([c, *coord])
                taps.append([o, c_local, *tap])
                pads.append(not inside)
                sources.append([c, *src] if copied and not inside else None)
                inputs.append(value)
                weights.append(float(w[(o, c_local, *tap)]))
        yield _cell([n, o, *pos], out, reads, taps, pads, inputs, weights,
                    bias=None if b is None else float(b[o]), sources=sources if copied else None)


def _cell(out_index: list[int], out: np.ndarray, reads: list, taps: list, pads: list, inputs: list, weights: list,
          *, bias: float | None = None, sources: list | None = None, **more: Any) -> dict[str, Any]:
    terms = [None if v is None or wt is None else v * wt for v, wt in zip(inputs, weights)]
    cell = {"out": out_index, "value": float(out[tuple(out_index)]), "reads": reads, "taps": taps, "padding": pads,
            "inputs": inputs, "weights": weights, "terms": terms}
    if bias is not None:
        cell["bias"] = bias
    if sources is not None:
        cell["source"] = sources
    return cell | more


def _conv_transpose_cells(spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                          out: np.ndarray) -> Iterator[dict[str, Any]]:
    """Output cell o gathers x[i]·w[k] for every i, k with i·s - p + k·d = o (the scatter, read backwards)."""
    c_in_group = spec.input_shape[1] // spec.groups
    c_out_group = spec.output_shape[1] // spec.groups
    pads = [lo for lo, _ in spec.padding]
    for n, o, *pos in _positions(spec.output_shape):
        g, o_local = divmod(o, c_out_group)
        per_axis = []
        for p, s, pad, k_len, d, i_len in zip(pos, spec.stride, pads, spec.kernel, spec.dilation,
                                              spec.input_shape[2:]):
            pairs = [((p + pad - k * d) // s, k) for k in range(k_len)
                     if (p + pad - k * d) % s == 0 and 0 <= (p + pad - k * d) // s < i_len]
            per_axis.append(pairs)
        reads, taps, inputs, weights = [], [], [], []
        for c in range(g * c_in_group, (g + 1) * c_in_group):
            for combo in itertools.product(*per_axis):
                i_coord = [i for i, _ in combo]
                tap = [k for _, k in combo]
                reads.append([c, *i_coord])
                taps.append([c, o_local, *tap])
                inputs.append(float(x[(n, c, *i_coord)]))
                weights.append(float(w[(c, o_local, *tap)]))
        yield _cell([n, o, *pos], out, reads, taps, [False] * len(reads), inputs, weights,
                    bias=None if b is None else float(b[o]),
                    scatter=_running_sums(reads, inputs, weights, spec.input_shape[2:],
                                          0.0 if b is None else float(b[o])))


def _running_sums(reads: list, inputs: list, weights: list, size: Any, start: float) -> list[list[float]]:
    """The cell as the scatter builds it: input cells are stamped in row-major order over (channel, position),
    step t being the flat index c·H·W + y·W + x of the stamped cell. Per step that reaches this cell,
    [t, the cell's value after it] (bias, if any, is there from the start), in step order."""
    steps = sorted((int(np.ravel_multi_index(tuple(r[1:]), tuple(size))) + r[0] * int(np.prod(size)),
                    v * wt) for r, v, wt in zip(reads, inputs, weights))
    out, total, i = [], start, 0
    while i < len(steps):
        t = steps[i][0]
        while i < len(steps) and steps[i][0] == t:  # one input cell can meet this output through several taps
            total += steps[i][1]
            i += 1
        out.append([t, total])
    return out


def _pool_cells(spec: PoolSpec, x: np.ndarray, out: np.ndarray,
                indices: np.ndarray | None) -> Iterator[dict[str, Any]]:
    """Window taps inside the padded extent; max marks its argmax, avg states its divisor (torch's rule)."""
    size = spec.input_shape[2:]
    for n, c, *pos in _positions(spec.output_shape):
        starts = [p * s - pad for p, s, pad in zip(pos, spec.stride, spec.padding)]
        reads, taps, pads, inputs = [], [], [], []
        for tap in _positions(spec.kernel):
            coord = [st + k * d for st, k, d in zip(starts, tap, spec.dilation)]
            if any(not -pad <= cv < n_ + pad for cv, pad, n_ in zip(coord, spec.padding, size)):
                continue  # past the padded edge: only ceil_mode's partial windows reach here
            inside = all(0 <= cv < n_ for cv, n_ in zip(coord, size))
            reads.append([c, *coord])
            taps.append(list(tap))
            pads.append(not inside)
            inputs.append(float(x[(n, c, *coord)]) if inside else (None if spec.kind == "max" else 0.0))
        if spec.kind == "max":
            flat = int(indices[(n, c, *pos)])
            target = list(np.unravel_index(flat, size)) if spec.dims == 2 else [flat]
            argmax = next(i for i, r in enumerate(reads) if r[1:] == [int(t) for t in target])
            yield _cell([n, c, *pos], out, reads, taps, pads, inputs, [None] * len(reads), argmax=argmax,
                        index=flat)
        else:
            divisor = _avg_divisor(spec, starts)
            weights = [0.0 if pad else 1.0 / divisor for pad in pads]
            yield _cell([n, c, *pos], out, reads, taps, pads, inputs, weights, divisor=divisor)


def _avg_divisor(spec: PoolSpec, starts: list[int]) -> int:
    """torch's avg_pool divisor: the window clipped to the padded input (count_include_pad) or to the input."""
    if spec.divisor_override:
        return spec.divisor_override
    with_pad, without = 1, 1
    for st, k, pad, n in zip(starts, spec.kernel, spec.padding, spec.input_shape[2:]):
        end = min(st + k, n + pad)
        with_pad *= end - st
        without *= min(end, n) - max(st, 0)
    return with_pad if spec.count_include_pad else without


def _unpool_cells(spec: PoolSpec, x: np.ndarray, idx: np.ndarray, out: np.ndarray) -> Iterator[dict[str, Any]]:
    size = spec.output_shape[2:]
    for n, c in _positions(spec.output_shape[:2]):
        routed: dict[int, list[list[int]]] = {}
        for pos in _positions(spec.input_shape[2:]):
            routed.setdefault(int(idx[(n, c, *pos)]), []).append([c, *pos])
        for pos in _positions(size):
            flat = int(np.ravel_multi_index(pos, size))
            reads = routed.get(flat, [])[:1]
            inputs = [float(x[(n, *r)]) for r in reads]
            yield _cell([n, c, *pos], out, reads, [None] * len(reads), [False] * len(reads), inputs,
                        [1.0] * len(reads), index=flat)


def _axis_matrix(spec: InterpolateSpec, axis: int) -> np.ndarray:
    """The 1-D interpolation matrix of one axis (out × in): torch's own weights (the modes are separable)."""
    kwargs: dict[str, Any]
    if spec.size is not None:
        kwargs = {"size": [spec.size[a] if a == axis else 1 for a in range(spec.dims)]}
    else:
        kwargs = {"scale_factor": [spec.scale_factor[a] if a == axis else 1.0 for a in range(spec.dims)]}
    return resample_matrix(spec.input_shape[2 + axis], lambda t: F.interpolate(
        t, mode=spec.mode, align_corners=spec.align_corners, **kwargs), spec.dims, axis).numpy()


def _interpolate_cells(spec: InterpolateSpec, x: np.ndarray, out: np.ndarray) -> Iterator[dict[str, Any]]:
    mats = [_axis_matrix(spec, a) for a in range(spec.dims)]
    for n, c, *pos in _positions(spec.output_shape):
        per_axis = [[(i, float(m[p, i])) for i in np.flatnonzero(m[p])] for m, p in zip(mats, pos)]
        reads, inputs, weights = [], [], []
        for combo in itertools.product(*per_axis):
            coord = [int(i) for i, _ in combo]
            reads.append([c, *coord])
            inputs.append(float(x[(n, c, *coord)]))
            weights.append(float(np.prod([wt for _, wt in combo])))
        yield _cell([n, c, *pos], out, reads, [None] * len(reads), [False] * len(reads), inputs, weights)
