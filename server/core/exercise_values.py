"""Exercise generators whose answers are tensors: outputs of conv2d, conv_transpose2d, pooling and
max_unpool2d, and conv2d's gradients. `given` is the body of POST /api/v1/ops/{op} (plus "op"); the
expected values come from run_op in float64 on the CPU. Inputs are small integers, so every expected
value is exact. The common mistakes are recomputed with torch on the same numbers.
"""
from __future__ import annotations

import random
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import shapes
from .exceptions import InvalidRequest
from .exercise_kinds import Kind, Mistake, Problem, distinct
from .ops import run_op

TENSOR_FORMAT = {"type": "tensor", "rank": 4, "layout": "N×C×H×W nested lists of numbers"}
_XCORR = "conv2d is cross-correlation, as in torch: the kernel is not flipped."


def ints(rng: random.Random, shape: tuple[int, ...], lo: int, hi: int) -> list[Any]:
    if len(shape) == 1:
        return [rng.randint(lo, hi) for _ in range(shape[0])]
    return [ints(rng, shape[1:], lo, hi) for _ in range(shape[0])]


def _t(value: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def _planes(name: str, tensor: Any) -> str:
    """input[0, 0] = [[1, 2], [3, 4]]; ... — every H×W plane of a rank-4 list, for the prompt."""
    return "; ".join(f"{name}[{a}, {b}] = {plane}" for a, block in enumerate(tensor) for b, plane in enumerate(block))


def _params_text(body: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={body[k]}" for k in keys if k in body)


def _run(op: str, body: dict[str, Any]) -> dict[str, Any]:
    return run_op(op, {k: v for k, v in body.items() if k != "op"})


def _shifted(full: torch.Tensor, start: tuple[int, int], size: tuple[int, ...], stride: int = 1) -> list[torch.Tensor]:
    """Samples of `full` (every stride-th cell from `start`) one cell off, in each direction that stays inside."""
    out = []
    for dy, dx in ((-1, -1), (1, 1), (-1, 0), (1, 0), (0, -1), (0, 1)):
        y, x = start[0] + dy, start[1] + dx
        y_end, x_end = y + (size[0] - 1) * stride + 1, x + (size[1] - 1) * stride + 1
        if 0 <= y and 0 <= x and y_end <= full.shape[2] and x_end <= full.shape[3]:
            out.append(full[:, :, y:y_end:stride, x:x_end:stride])
    return out


def _attempt(fn: Callable[[], Any]) -> Any:
    """A mistaken computation that torch itself refuses (a kernel past the unpadded input) is no mistake to match."""
    try:
        value = fn()
    except (RuntimeError, InvalidRequest):
        return None
    return value.numpy() if isinstance(value, torch.Tensor) else value


# ---------------------------------------------------------------- conv_output_values
def _conv_values(rng: random.Random, difficulty: int) -> Problem:
    while True:
        c_in = c_out = g = 1
        h = w = rng.randint(4, 5)
        k, s, p, d = rng.choice([2, 3]), 1, 0, 1
        if difficulty == 2:
            h, w, k, s, p = rng.randint(5, 6), rng.randint(5, 6), 3, rng.choice([1, 2]), 1
        elif difficulty == 3:
            c_in, c_out, g = 2, 2, rng.choice([1, 2])
            h, w, k, p = rng.randint(5, 6), rng.randint(5, 7), rng.choice([2, 3]), rng.choice([1, 2])
            s, d = rng.choice([(2, 1), (1, 2), (2, 2)])
        body: dict[str, Any] = {"op": "conv2d", "input": ints(rng, (1, c_in, h, w), -2, 3),
                                "weight": ints(rng, (c_out, c_in // g, k, k), -1, 2)}
        if difficulty > 1:
            body["bias"] = ints(rng, (c_out,), -2, 2)
        body |= {"stride": s, "padding": p, "dilation": d, "groups": g}
        w_t = _t(body["weight"])
        if torch.equal(w_t, w_t.flip(-1, -2)):
            continue
        try:
            spec = shapes.check_conv((1, c_in, h, w), tuple(w_t.shape), None, body, 2)
        except InvalidRequest:
            continue
        break
    x, bias = _t(body["input"]), (_t(body["bias"]) if "bias" in body else None)

    def conv(weight: torch.Tensor = w_t, **kw: Any) -> Any:
        args = {"stride": s, "padding": p, "dilation": d} | kw
        return _attempt(lambda: F.conv2d(x, weight, bias, groups=g, **args))

    def mistakes() -> list[Mistake]:
        out_hw = spec.output_shape[2:]
        found = [Mistake(f"You flipped the kernel (a true convolution); {_XCORR}", conv(w_t.flip(-1, -2)))]
        if bias is not None:
            found.append(Mistake("You left out the bias: add bias[c] to every cell of output channel c.",
                                 _attempt(lambda: F.conv2d(x, w_t, None, s, p, d, g))))
        if p:
            found.append(Mistake(f"You left out the padding: pad p = {p} zeros on every side first.", conv(padding=0)))
            full = F.conv2d(F.pad(x, (p + 1,) * 4), w_t, bias, 1, 0, d, g)
            shifted = _shifted(full, (1, 1), out_hw, s)
            found += [Mistake(f"Your values are shifted by one cell at a padded border: pad p = {p} zeros on every "
                              f"side, then start at the top-left.", v.numpy()) for v in shifted]
        if d > 1:
            found.append(Mistake(f"You left out the dilation: the kernel taps are d = {d} cells apart.",
                                 conv(dilation=1)))
        if s > 1:
            found.append(Mistake(f"You left out the stride: the window moves s = {s} cells at a time.", conv(stride=1)))
        ceil = [-(-(n + 2 * p - d * (k - 1) - 1) // s) + 1 for n in (h, w)]
        if ceil != list(out_hw):
            found.append(Mistake("Your output has a row or column too many: PyTorch floors ⌊(n + 2p − d(k−1) − 1)/s⌋ "
                                 "+ 1, dropping a window that would run past the padded input.",
                                 shape=(1, c_out, *ceil)))
        return distinct([m for m in found if m.value is not None or m.shape is not None], None)

    prompt = (f"Compute conv2d ({_params_text(body, ('stride', 'padding', 'dilation', 'groups'))}) of the "
              f"1×{c_in}×{h}×{w} input with the {c_out}×{c_in // g}×{k}×{k} weight"
              f"{' and bias ' + str(body['bias']) if 'bias' in body else ''}. {_XCORR} "
              f"{_planes('input', body['input'])}; {_planes('weight', body['weight'])}. Give the output, N×C×H×W.")
    return Problem("Values of a convolution", prompt, body, TENSOR_FORMAT,
                   lambda: _run("conv2d", body)["output"].tolist(), mistakes)


# ---------------------------------------------------------------- conv_transpose_output_values
def _transpose_values(rng: random.Random, difficulty: int) -> Problem:
    while True:
        c_in = c_out = g = 1
        n, k, s, p, op, d = 2, rng.choice([2, 3]), 2, 0, 0, 1
        if difficulty == 2:
            n, k, p, op = rng.choice([2, 3]), 3, 1, rng.choice([0, 1])
        elif difficulty == 3:
            c_in, g = 2, rng.choice([1, 2])
            c_out = rng.choice([1, 2]) if g == 1 else 2
            n, k, d = rng.choice([2, 3]), rng.choice([2, 3]), rng.choice([1, 2])
            p, op = rng.randint(1, 2), rng.randint(0, 1)
        body: dict[str, Any] = {"op": "conv_transpose2d", "input": ints(rng, (1, c_in, n, n), -2, 3),
                                "weight": ints(rng, (c_in, c_out // g, k, k), -1, 2)}
        if difficulty > 1 and rng.random() < 0.5:
            body["bias"] = ints(rng, (c_out,), -2, 2)
        body |= {"stride": s, "padding": p, "output_padding": op, "dilation": d, "groups": g}
        w_t = _t(body["weight"])
        if torch.equal(w_t, w_t.flip(-1, -2)):
            continue
        try:
            spec = shapes.check_conv_transpose((1, c_in, n, n), tuple(w_t.shape), None, body, 2)
        except InvalidRequest:
            continue
        if min(spec.output_shape[2:]) >= 2:
            break
    x, bias = _t(body["input"]), (_t(body["bias"]) if "bias" in body else None)

    def convt(weight: torch.Tensor = w_t, **kw: Any) -> Any:
        args = {"stride": s, "padding": p, "output_padding": op, "dilation": d} | kw
        return _attempt(lambda: F.conv_transpose2d(x, weight, bias, groups=g, **args))

    def mistakes() -> list[Mistake]:
        size = spec.output_shape[2:]
        found = [Mistake("You flipped the kernel: conv_transpose2d adds each input value times the kernel as it is, "
                         "placed s cells apart.", convt(w_t.flip(-1, -2)))]
        if op:
            found.append(Mistake(f"You left out output_padding: it adds {op} row and column at the bottom and right, "
                                 f"which get the kernel taps that reach them.", convt(output_padding=0)))
        if p:
            full = F.conv_transpose2d(x, w_t, bias, s, 0, op, g, d)
            found.append(Mistake(f"You did not crop the padding: conv_transpose2d's padding removes p = {p} cells "
                                 f"from each border of the full result.", full.numpy()))
            found += [Mistake(f"Your values are shifted by one cell: crop p = {p} from the top and the left of the "
                              f"full result.", v.numpy()) for v in _shifted(full, (p, p), size)]
        found.append(Mistake("You left out the stride: each input cell's copy of the kernel starts s = 2 cells after "
                             "the previous one.", convt(stride=1, output_padding=0)))
        return distinct([m for m in found if m.value is not None], None)

    keys = ("stride", "padding", "output_padding", "dilation", "groups")
    prompt = (f"Compute conv_transpose2d ({_params_text(body, keys)}) of the 1×{c_in}×{n}×{n} input with the "
              f"{c_in}×{c_out // g}×{k}×{k} weight (C_in × C_out/groups × "
              f"kH × kW){' and bias ' + str(body['bias']) if 'bias' in body else ''}. "
              f"{_planes('input', body['input'])}; "
              f"{_planes('weight', body['weight'])}. Give the output, N×C×H×W.")
    return Problem("Values of a transposed convolution", prompt, body, TENSOR_FORMAT,
                   lambda: _run("conv_transpose2d", body)["output"].tolist(), mistakes)


# ---------------------------------------------------------------- pool_output_values
def _pool_body(rng: random.Random, difficulty: int) -> dict[str, Any]:
    if difficulty == 1:
        size, c = rng.choice([4, 6]), 1
        params: dict[str, Any] = {"op": "max_pool2d", "kernel_size": 2}
    elif difficulty == 2:
        size, c = rng.randint(5, 7), 1
        params = {"op": rng.choice(["max_pool2d", "avg_pool2d"]), "kernel_size": 3, "stride": 2,
                  "padding": rng.randint(0, 1), "ceil_mode": rng.random() < 0.5}
    else:
        size, c = rng.randint(5, 7), rng.choice([1, 2])
        if rng.random() < 0.5:
            params = {"op": "avg_pool2d", "kernel_size": 3, "stride": 2, "padding": 1,
                      "ceil_mode": rng.random() < 0.5, "count_include_pad": rng.random() < 0.5}
        else:
            params = {"op": "max_pool2d", "kernel_size": rng.choice([2, 3]), "stride": 2,
                      "padding": 1, "dilation": 2, "ceil_mode": rng.random() < 0.5}
    values = rng.sample(range(-50, 50), c * size * size)  # distinct: no ties for the maximum
    x = [[[values[(ch * size + i) * size:(ch * size + i + 1) * size] for i in range(size)] for ch in range(c)]]
    return {"op": params.pop("op"), "input": x} | params


def _pool_values(rng: random.Random, difficulty: int) -> Problem:
    while True:
        body = _pool_body(rng, difficulty)
        op = body.pop("op")
        try:
            spec = shapes.check_pool(np.shape(body["input"]), body, 2, op[:3])
        except InvalidRequest:
            continue
        if op == "max_pool2d" and spec.dilation[0] > 1 and not _max_pool_finite(body):
            continue
        break
    body = {"op": op} | body

    def variant(**kw: Any) -> Any:
        return _attempt(lambda: _run(op, body | kw)["output"])

    def mistakes() -> list[Mistake]:
        found = []
        other = "avg_pool2d" if op == "max_pool2d" else "max_pool2d"
        swapped = {k: v for k, v in body.items() if k not in ("count_include_pad", "dilation")}
        found.append(Mistake(f"You took the {'average' if op == 'max_pool2d' else 'maximum'} of each window; {op} "
                             f"takes the {'maximum' if op == 'max_pool2d' else 'average'}.",
                             _attempt(lambda: _run(other, swapped)["output"])))
        ceil = body.get("ceil_mode", False)
        found.append(Mistake("With ceil_mode=True the size rounds up, keeping a last, partial window (unless it "
                             "would start in the right padding)." if ceil else
                             "You rounded the output size up: without ceil_mode PyTorch floors and drops a last, "
                             "partial window.", variant(ceil_mode=not ceil)))
        if op == "avg_pool2d" and body.get("padding", 0):
            inc = body.get("count_include_pad", True)
            found.append(Mistake("With count_include_pad=True the padding zeros count in the divisor: every window "
                                 "divides by k·k." if inc else "With count_include_pad=False only the real cells "
                                 "count in the divisor, not the padding.", variant(count_include_pad=not inc)))
        if body.get("padding", 0):
            found.append(Mistake(f"You left out the padding of {body['padding']} on every side.", variant(padding=0)))
        if body.get("dilation", 1) > 1:
            found.append(Mistake(f"You left out the dilation: the window's cells are {body['dilation']} apart.",
                                 variant(dilation=1)))
        found.append(Mistake("The stride defaults to kernel_size for pooling (not 1)." if "stride" not in body else
                             "You moved the window one cell at a time; it moves stride cells.", variant(stride=1)))
        return distinct([m for m in found if m.value is not None], None)

    keys = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad")
    size = np.shape(body["input"])
    prompt = (f"Compute {op} ({_params_text(body, keys)}) of the {'×'.join(map(str, size))} input. "
              f"{_planes('input', body['input'])}. Give the output, N×C×H×W.")
    return Problem("Values of a pooling layer", prompt, body, TENSOR_FORMAT,
                   lambda: _run(op, body)["output"].tolist(), mistakes)


def _max_pool_finite(body: dict[str, Any]) -> bool:
    """A dilated window may read only padding (−∞): run_op refuses that case, so draw again."""
    try:
        return bool(np.isfinite(_run("max_pool2d", body)["output"]).all())
    except InvalidRequest:
        return False


# ---------------------------------------------------------------- unpool_output_values
def _unpool_values(rng: random.Random, difficulty: int) -> Problem:
    if difficulty == 1:
        size, k, s = rng.choice([4, 6]), 2, 2
    elif difficulty == 2:
        size, k = 6, rng.choice([2, 3])
        s = k
    else:
        size, k, s = rng.choice([(5, 2, 2), (7, 2, 2), (6, 3, 2), (7, 3, 3)])
    values = rng.sample(range(-30, 40), size * size)
    x = [[[values[i * size:(i + 1) * size] for i in range(size)]]]
    pooled = run_op("max_pool2d", {"input": x, "kernel_size": k, "stride": s})
    body: dict[str, Any] = {"op": "max_unpool2d", "input": pooled["output"].astype(int).tolist(),
                            "indices": pooled["indices"].tolist(), "kernel_size": k, "stride": s}
    n = pooled["output"].shape[2]
    default = shapes.unpool_default_length(n, k, s, 0)
    if default != size:
        body["output_size"] = [size, size]
    out_shape = (1, 1, size, size)

    def mistakes() -> list[Mistake]:
        v, idx = pooled["output"][0, 0], pooled["indices"][0, 0]
        fill, corner, column = (np.zeros(out_shape) for _ in range(3))
        for a in range(n):
            for b in range(n):
                fill[0, 0, a * s:a * s + k, b * s:b * s + k] = v[a, b]
                corner[0, 0, a * s, b * s] = v[a, b]
                column[0, 0, idx[a, b] % size, idx[a, b] // size] = v[a, b]
        found = [Mistake("You copied each value over its whole window (nearest upsampling); max_unpool2d puts it "
                         "only where indices says and zeros everywhere else.", fill),
                 Mistake("You put each value at the top-left of its window; indices says where in the window the "
                         "maximum was.", corner),
                 Mistake("You read the indices column by column; they are row-major in each plane: index = row·W + "
                         "col.", column)]
        if "output_size" in body:
            found.append(Mistake(f"Without output_size the unpooled size would be (i−1)s − 2p + k = {default}; "
                                 f"output_size asks for {size}×{size}.", shape=(1, 1, default, default)))
        return distinct(found, None)

    prompt = (f"max_pool2d (kernel_size={k}, stride={s}) of a {size}×{size} map gave the values and indices "
              f"below. Compute max_unpool2d ({_params_text(body, ('kernel_size', 'stride', 'output_size'))}). "
              f"{_planes('input', body['input'])}; {_planes('indices', body['indices'])} (flat, row-major in each "
              f"plane). Give the output, N×C×H×W.")
    return Problem("Values of max-unpooling", prompt, body, TENSOR_FORMAT,
                   lambda: _run("max_unpool2d", body)["output"].tolist(), mistakes)


# ---------------------------------------------------------------- conv_backward_values
_BACKWARD_FIELDS = {1: ("grad_input",), 2: ("grad_weight",), 3: ("grad_input", "grad_weight", "grad_bias")}


def _backward_values(rng: random.Random, difficulty: int) -> Problem:
    c_in, c_out, s, p = 1, 1, 1, 0
    if difficulty == 1:
        h = w = rng.randint(3, 4)
        k = 2
    elif difficulty == 2:
        h = w = rng.randint(4, 5)
        k, s, p = rng.choice([2, 3]), rng.choice([1, 2]), rng.randint(0, 1)
    else:
        h, w, k, s, p = rng.randint(4, 5), rng.randint(4, 5), rng.choice([2, 3]), 2, 1
        c_in, c_out = 2, rng.choice([1, 2])
    while True:
        body: dict[str, Any] = {"op": "conv2d", "input": ints(rng, (1, c_in, h, w), -2, 3),
                                "weight": ints(rng, (c_out, c_in, k, k), -1, 2)}
        if not torch.equal(_t(body["weight"]), _t(body["weight"]).flip(-1, -2)):
            break
    if difficulty == 3:
        body["bias"] = ints(rng, (c_out,), -2, 2)
    body |= {"stride": s, "padding": p}
    out = [(n + 2 * p - k) // s + 1 for n in (h, w)]
    body["grad_output"] = ints(rng, (1, c_out, *out), -1, 2)
    fields = _BACKWARD_FIELDS[difficulty]
    x, w_t, g = _t(body["input"]), _t(body["weight"]), _t(body["grad_output"])

    def solve() -> dict[str, Any]:
        result = _run("conv2d", body)
        return {f: result[f].tolist() for f in fields}

    def mistakes() -> list[Mistake]:
        found = []
        if "grad_input" in fields:
            unflipped = torch.nn.grad.conv2d_input(x.shape, w_t.flip(-1, -2), g, s, p)
            found.append(Mistake("the kernel is used unrotated: grad_input is the full cross-correlation of "
                                 "grad_output with the kernel rotated by 180° (conv_transpose2d of grad_output with "
                                 "the "
                                 "kernel as it is).", unflipped.numpy(), field="grad_input"))
        if "grad_weight" in fields:
            right = torch.nn.grad.conv2d_weight(x, w_t.shape, g, s, p)
            found.append(Mistake("rotated by 180°: grad_weight[o, i, a, b] = Σ grad_output[o, y, x] · "
                                 "input[i, y·s − p + a, x·s − p + b], with no flip.", right.flip(-1, -2).numpy(),
                                 field="grad_weight"))
        if "grad_bias" in fields:
            found.append(Mistake("grad_bias sums grad_output over every position; it does not average.",
                                 g.mean(dim=(0, 2, 3)).numpy(), field="grad_bias"))
        return found

    names = {"grad_input": "grad_input (shaped like the input)", "grad_weight": "grad_weight (shaped like the weight)",
             "grad_bias": "grad_bias (one value per output channel)"}
    prompt = (f"y = conv2d(input, weight{', bias' if 'bias' in body else ''}, stride={s}, padding={p}) and the loss "
              f"gradient grad_output = ∂L/∂y is given. {_XCORR} {_planes('input', body['input'])}; "
              f"{_planes('weight', body['weight'])}; {_planes('grad_output', body['grad_output'])}. Compute "
              f"{', '.join(names[f] for f in fields)}.")
    fmt = {"type": "object", "fields": {f: TENSOR_FORMAT if f != "grad_bias" else
                                        {"type": "tensor", "rank": 1, "layout": "C_out numbers"} for f in fields}}
    return Problem("Gradients of a convolution", prompt, body, fmt, solve, mistakes)


KINDS = {k.name: k for k in (
    Kind("conv_output_values", "Values of a convolution", f"The output of conv2d on small integers. {_XCORR}",
         "N×C×H×W nested lists", {1: "one channel, no padding, stride 1", 2: "padding, stride, bias",
                                  3: "two channels, groups, dilation, stride"}, _conv_values),
    Kind("conv_transpose_output_values", "Values of a transposed convolution",
         "The output of conv_transpose2d: each input value scatters a copy of the kernel, s cells apart; padding "
         "crops, output_padding extends.", "N×C×H×W nested lists",
         {1: "stride 2, no padding", 2: "padding and output_padding, bias", 3: "two channels, groups, dilation"},
         _transpose_values),
    Kind("pool_output_values", "Values of a pooling layer",
         "The output of max_pool2d or avg_pool2d: padding, ceil_mode, count_include_pad, dilation.",
         "N×C×H×W nested lists", {1: "2×2 max pool, stride 2", 2: "3×3 windows, stride 2, padding or ceil_mode",
                                  3: "avg pool with count_include_pad, or dilated max pool"}, _pool_values),
    Kind("unpool_output_values", "Values of max-unpooling",
         "max_unpool2d puts each value where indices says and zeros elsewhere; output_size for odd sizes.",
         "N×C×H×W nested lists", {1: "2×2 windows", 2: "2×2 or 3×3 windows", 3: "odd sizes (output_size) and "
                                  "overlapping windows"}, _unpool_values),
    Kind("conv_backward_values", "Gradients of a convolution",
         "grad_input, grad_weight and grad_bias of conv2d for a given grad_output, as autograd computes them.",
         '{"grad_input"} / {"grad_weight"} / {"grad_input", "grad_weight", "grad_bias"}',
         {1: "grad_input, stride 1", 2: "grad_weight, stride and padding", 3: "all three, two channels, stride 2"},
         _backward_values),
)}
