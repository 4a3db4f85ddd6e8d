"""Transposed convolution as a direct convolution, laid out for the page.

conv_transpose(x, w, s, p, output_padding=a, dilation=d) equals a stride-1
cross-correlation with the kernel flipped (and its channel axes swapped) over
the input *zero-stretched* by s (s-1 zeros between neighbours) and padded by
d(k-1)-p on each side, plus a extra zeros at the bottom/right
(Dumoulin & Visin 2016, §4). When p > d(k-1) the "padding" is negative: the
stretched input is cropped instead.

Everything here is per axis and separable; the page draws what this returns
and repeats none of it.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from . import ops, shapes
from .exceptions import ConvscopeError, InvalidRequest
from .limits import DEFAULT_LIMITS, Limits, check_cap, numel
from .tensors import parse_tensor

# Cell kinds of the stretched, padded input, in the order a mixed cell takes its name.
KINDS = ("output_padding", "padding", "inserted", "input")
_PARAMS = {"input", "weight", "bias", "stride", "padding", "output_padding", "dilation", "groups"}


def axis_layout(n: int, k: int, s: int, p: int, a: int, d: int) -> list[tuple[str, int | None]]:
    """One axis of the stretched, padded input: (kind, source index or None) per cell.

    Stretch: input i sits at i·s with s-1 inserted zeros between. Pad d(k-1)-p before and
    d(k-1)-p+a after (the last a of them are output_padding); a negative pad crops."""
    body: list[tuple[str, int | None]] = []
    for i in range(n):
        if i:
            body.extend([("inserted", None)] * (s - 1))
        body.append(("input", i))
    lo = d * (k - 1) - p
    hi = lo + a
    if lo < 0:
        body = body[-lo:]
    else:
        body = [("padding", None)] * lo + body
    if hi < 0:
        body = body[:hi]
    else:
        extra = min(a, hi)
        body = body + [("padding", None)] * (hi - extra) + [("output_padding", None)] * extra
    return body


def flip_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """conv_transpose weight (C_in × C_out/g × k...) -> conv weight (C_out × C_in/g × k...), spatially flipped."""
    c_in, c_out_g, *kernel = w.shape
    per = w.reshape(groups, c_in // groups, c_out_g, *kernel)
    swapped = np.swapaxes(per, 1, 2).reshape(groups * c_out_g, c_in // groups, *kernel)
    return np.ascontiguousarray(np.flip(swapped, axis=tuple(range(2, 2 + len(kernel)))))


def transpose_view(body: dict[str, Any], *, limits: Limits = DEFAULT_LIMITS, device: str = "cpu") -> dict[str, Any]:
    """The transposed conv three ways: its own output, and in "ops" what /ops answers for it with extras ["trace"]
    and with ["toeplitz"] (each refusal in place); and the equivalent direct conv: stretched input, flipped
    kernel, its output and trace, and whether they match."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", [])
    unknown = sorted(set(body) - _PARAMS)
    if unknown:
        raise InvalidRequest(f"The transpose view has no parameter {unknown[0]!r}; it takes "
                             f"{', '.join(sorted(_PARAMS))}.", [unknown[0]])
    if "input" not in body or "weight" not in body:
        raise InvalidRequest("The transpose view needs an input and a weight tensor.", ["input"])
    x = parse_tensor(body["input"], "input", cap=limits.max_input_elements)
    dims = x.ndim - 2
    if dims not in (1, 2):
        raise InvalidRequest(f"input must be N×C×L or N×C×H×W, but it has rank {x.ndim}.", ["input"])
    op = f"conv_transpose{dims}d"
    # The op itself validates every parameter and writes the teaching sentence.
    transposed = ops.run_op(op, dict(body), limits=limits, device=device)
    w = parse_tensor(body["weight"], "weight", cap=limits.max_input_elements)
    bias_shape = None if body.get("bias") is None else np.shape(body["bias"])
    spec = shapes.check_conv_transpose(x.shape, w.shape, bias_shape, body, dims)

    axes = [axis_layout(n, k, s, lo, a, d) for n, k, s, (lo, _), a, d in
            zip(spec.input_shape[2:], spec.kernel, spec.stride, spec.padding, spec.output_padding, spec.dilation)]
    size = [len(ax) for ax in axes]
    check_cap(numel([*x.shape[:2], *size]), limits.max_input_elements, "The stretched input", "input")
    stretched = np.zeros((*x.shape[:2], *size))
    kinds, origin = _grids(axes)
    for pos in itertools.product(*(range(v) for v in size)):
        src = [ax[i][1] for ax, i in zip(axes, pos)]
        if all(v is not None for v in src):
            stretched[(slice(None), slice(None), *pos)] = x[(slice(None), slice(None), *src)]
    flipped = flip_weight(w, spec.groups)
    direct_body: dict[str, Any] = {"input": stretched.tolist(), "weight": flipped.tolist(),
                                   "dilation": list(spec.dilation), "groups": spec.groups, "extras": ["trace"]}
    if body.get("bias") is not None:
        direct_body["bias"] = body["bias"]
    direct = ops.run_op(f"conv{dims}d", direct_body, limits=limits, device=device)
    matches = direct["output"].shape == transposed["output"].shape and bool(
        np.allclose(direct["output"], transposed["output"], rtol=1e-9, atol=1e-9))
    return {
        "op": op, "output": transposed["output"], "shape": transposed["shape"],
        "stretched": stretched, "stretched_shape": list(stretched.shape),
        "kinds": kinds, "origin": origin,
        "pad": [[d * (k - 1) - lo, d * (k - 1) - lo + a] for k, (lo, _), a, d in
                zip(spec.kernel, spec.padding, spec.output_padding, spec.dilation)],
        "flipped_weight": flipped,
        "direct": {"op": f"conv{dims}d", "output": direct["output"], "shape": direct["shape"],
                   "trace": direct["trace"]},
        "matches": matches,
        # what the page also draws, so that it asks once: the op's answer with each extra, or its refusal in place
        "ops": {extra: _ops_answer(op, body, extra, limits, device) for extra in ("trace", "toeplitz")},
    }


def _ops_answer(op: str, body: dict[str, Any], extra: str, limits: Limits, device: str) -> dict[str, Any]:
    """What POST /api/v1/ops/{op} answers for the body with extras [extra], or its refusal's status, error and
    errors (the Toeplitz matrix has its own cap)."""
    try:
        return ops.run_op(op, {**body, "extras": [extra]}, limits=limits, device=device)
    except ConvscopeError as exc:
        return {"status": exc.status, "error": exc.message, "errors": [{"loc": exc.loc, "msg": exc.message}]}


def _grids(axes: list[list[tuple[str, int | None]]]) -> tuple[list[Any], list[Any]]:
    """Per cell of the stretched plane: its kind (the most specific of its axes) and source coordinates."""
    def cell(entries: tuple[tuple[str, int | None], ...]) -> tuple[str, list[int] | None]:
        kind = next(k for k in KINDS if any(e[0] == k for e in entries))
        src = [e[1] for e in entries]
        return kind, (src if all(v is not None for v in src) else None)  # type: ignore[return-value]

    if len(axes) == 1:
        pairs = [cell((e,)) for e in axes[0]]
        return [k for k, _ in pairs], [o for _, o in pairs]
    rows = [[cell((ey, ex)) for ex in axes[1]] for ey in axes[0]]
    return [[k for k, _ in r] for r in rows], [[o for _, o in r] for r in rows]
