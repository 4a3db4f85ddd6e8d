"""One unit of a pipeline on its real image: its exact value, theoretical and effective receptive field,
and the hypercolumn at its pixel.

- Theoretical field: receptive.py's recursion on the pipeline's layers (centre ± r/2, in input pixels).
- Effective field: |∂unit/∂image| by autograd through the very layers, weights and image the page shows,
  summed over the image's channels (Luo et al., 2016). Where a relu is off or a max pool routes elsewhere,
  pixels inside the theoretical field get no gradient; batch_norm2d in training mode spreads the gradient
  over the whole image, since its statistics are taken over every pixel.
- Hypercolumn (the course's L[x, y] = L_0[x, y]; …; L_ℓ[⌊x·X_ℓ/X_0⌋, ⌊y·Y_ℓ/Y_0⌋]; …): the feature vector
  of every layer at the pixel holding the unit's centre, each layer upsampled to the input's size by
  torch's interpolate ("nearest", the formula above, or "bilinear"), read at that one pixel.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from convscope.core.encoding import encode_feature_maps
from convscope.core.exceptions import InvalidRequest, TooLarge
from convscope.core.layers.forward import resample_matrix
from convscope.core.pipeline import Plan, plan_pipeline
from convscope.core.pipeline_run import as_maps, check_display, make_runner
from convscope.core.reach import wrapped
from convscope.core.receptive import entries, number, region, resolve_unit

MAX_PROBE_ELEMENTS = 24 * 1024 * 1024  # every map of the pipeline is kept for autograd: ~100 MB of float32
HYPERCOLUMN_MODES = ("nearest", "bilinear")


def _axis_weights(n_in: int, n_out: int, at: int, mode: str) -> torch.Tensor:
    """torch's interpolation weights of output index `at` over the n_in inputs, resizing n_in -> n_out
    (bilinear is separable by axis)."""
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    return resample_matrix(n_in, lambda t: F.interpolate(t, size=(n_out, 1), mode=mode, **kwargs))[at]


def column_at(m: torch.Tensor, size: tuple[int, int], pixel: tuple[int, int], mode: str) -> list[float]:
    """F.interpolate(m[None], size=size, mode=mode)[0, :, y, x] without building the upsampled map."""
    m = as_maps(m)
    _, h, w = m.shape
    wy = _axis_weights(h, size[0], pixel[0], mode).to(m.device)
    wx = _axis_weights(w, size[1], pixel[1], mode).to(m.device)
    return torch.einsum("chw,h,w->c", m.detach().double(), wy, wx).tolist()


def probe(pixels: np.ndarray, layers: Any, unit: Any, *, device: str = "cpu", max_side: int = 256,
          hypercolumn: Any = "nearest", plan: Plan | None = None) -> dict[str, Any]:
    """The body of POST /api/v1/pipeline/probe (without "ok"). With `plan` (a model), `pixels` is the
    tensor the model receives."""
    check_display(max_side, "raw")
    if hypercolumn not in HYPERCOLUMN_MODES:
        raise InvalidRequest(f"hypercolumn must be one of {', '.join(HYPERCOLUMN_MODES)}, not {hypercolumn!r}.",
                             ["hypercolumn"])
    shape = tuple(int(v) for v in pixels.shape)
    if plan is None:
        plan = plan_pipeline(shape, layers)  # type: ignore[arg-type]
    held = math.prod(shape) + sum(math.prod(p.output_shape) for p in plan.stack)
    if held > MAX_PROBE_ELEMENTS:
        raise TooLarge(f"Probing a unit keeps every map of the pipeline for autograd: {held:,} values, more than "
                       f"this server's cap of {MAX_PROBE_ELEMENTS:,}; work on a smaller image side or use fewer "
                       "channels.", ["layers"])
    table = entries(shape, plan.network)  # type: ignore[arg-type]
    u = resolve_unit(unit, table)
    entry = table[u.entry]
    size = (shape[1], shape[2])
    box, clipped = region(entry, u, size)

    x = torch.tensor(np.array(pixels, dtype=np.float32, order="C"), device=device, requires_grad=True)
    runner = make_runner(plan, device, keep=True)
    # channels-last: faster kernels, as in pipeline_run; the graph keeps every entry for autograd
    maps = [t[0] for t in runner.run(x[None].contiguous(memory_format=torch.channels_last))]  # type: ignore[index]
    m = maps[u.entry]
    value = m[u.channel, u.y, u.x] if m.dim() == 3 else m[u.channel]
    (grad,) = torch.autograd.grad(value, x)
    g = grad.detach().abs().sum(dim=0)
    rows = torch.nonzero(g.any(dim=1)).flatten().tolist()
    cols = torch.nonzero(g.any(dim=0)).flatten().tolist()
    bbox = {"y0": rows[0], "y1": rows[-1] + 1, "x0": cols[0], "x1": cols[-1] + 1} if rows else None
    (heat,) = encode_feature_maps(g, max_side=max_side, encoding="raw")

    centre = (entry.axes[0].centre(u.y), entry.axes[1].centre(u.x))
    pixel = tuple(min(n - 1, max(0, math.floor(c))) for c, n in zip(centre, size))
    column = [{"entry": k, "name": e.name, "op": e.op, "values": column_at(m, size, pixel, hypercolumn)}  # type: ignore[arg-type]
              for k, (e, m) in enumerate(zip(table, maps))]
    return {
        "unit": {"layer": u.entry, "name": entry.name, "y": u.y, "x": u.x, "channel": u.channel,
                 "value": float(value.detach()), "centre": [number(c) for c in centre]},
        "region": box, "clipped": clipped, "wrapped": wrapped(table, u.entry, (u.y, u.x), clipped),
        "effective": {"bbox": bbox, "nonzero": int(torch.count_nonzero(g)), "max": float(g.max()),
                      "map": heat.as_dict()},
        "hypercolumn": {"pixel": list(pixel), "mode": hypercolumn, "length": sum(len(c["values"]) for c in column),
                        "layers": column},
    }
