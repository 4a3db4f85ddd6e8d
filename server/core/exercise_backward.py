"""Exercise generators for the backward pass: grad_input of max and average pooling, and grad_weight of a
small conv2d, for a given grad_output. Expected values come from autograd (run_op, float64, CPU); the
common mistakes are recomputed on the same numbers so the feedback can name the one an answer matches.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from .exercise_kinds import Kind, Mistake, Problem, distinct
from .exercise_values import TENSOR_FORMAT, _planes, _run, _t, ints

_XCORR = "conv2d is cross-correlation, as in torch: the kernel is not flipped."


# ---------------------------------------------------------------- pool_backward_values
def _pool_backward(rng: random.Random, difficulty: int) -> Problem:
    op = "max_pool2d" if difficulty == 1 else rng.choice(["max_pool2d", "avg_pool2d"])
    size = rng.choice([4, 6]) if difficulty == 1 else rng.randint(5, 6)
    params: dict[str, Any] = {"kernel_size": 2} if difficulty == 1 else {"kernel_size": 3, "stride": 2}
    if difficulty == 3:
        params |= {"padding": 1}
        if op == "avg_pool2d":
            params["count_include_pad"] = rng.random() < 0.5
    values = rng.sample(range(-40, 40), size * size)  # distinct: the argmax is never a tie
    x = [[[values[i * size:(i + 1) * size] for i in range(size)]]]
    out = _run(op, {"input": x, **params})["output"]
    body = {"op": op, "input": x, **params, "grad_output": ints(rng, out.shape, -3, 4)}

    def mistakes() -> list[Mistake]:
        found = []
        g = _t(body["grad_output"])
        k, s, p = params["kernel_size"], params.get("stride", params["kernel_size"]), params.get("padding", 0)
        xt = _t(x).requires_grad_(True)
        if op == "max_pool2d":
            spread = torch.nn.functional.avg_pool2d(xt, k, s, p, count_include_pad=True) * (k * k)
            spread.backward(g)
            found.append(Mistake("You sent the gradient to every cell of the window; max pooling routes each "
                                 "gradient only to the window's maximum (its index), zeros elsewhere.",
                                 xt.grad.numpy().copy()))
        else:
            summed = torch.nn.functional.avg_pool2d(xt, k, s, p, count_include_pad=True) * (k * k)
            summed.backward(g)
            found.append(Mistake("You did not divide by the window's size: each cell of the window gets "
                                 "grad_output / divisor.", xt.grad.numpy().copy()))
            if p:
                inc = params.get("count_include_pad", True)
                other = _run(op, body | {"count_include_pad": not inc})["grad_input"]
                found.append(Mistake("The divisor is wrong: with count_include_pad=True it is k·k, padding "
                                     "included; with False it counts only the real cells of the window — here it "
                                     f"is {'True' if inc else 'False'}.", other))
            top = torch.zeros_like(_t(x))
            _, idx = torch.nn.functional.max_pool2d(_t(x), k, s, p, return_indices=True)
            top.view(-1).index_add_(0, idx.view(-1), g.view(-1))
            found.append(Mistake("You routed each gradient to the window's maximum, as max pooling does; average "
                                 "pooling spreads it over the whole window.", top.numpy()))
        return distinct(found, None)

    keys = ", ".join(f"{k}={v}" for k, v in params.items())
    prompt = (f"y = {op}(input, {keys}) and grad_output = ∂L/∂y is given. {_planes('input', x)}; "
              f"{_planes('grad_output', body['grad_output'])}. Compute grad_input = ∂L/∂input, N×C×H×W.")
    return Problem("Gradient of a pooling layer", prompt, body, TENSOR_FORMAT,
                   lambda: _run(op, body)["grad_input"].tolist(), mistakes)


# ---------------------------------------------------------------- conv_weight_grad_values
def _weight_grad(rng: random.Random, difficulty: int) -> Problem:
    c_in, s, p, k = 1, 1, 0, 2
    h = w = rng.randint(3, 4)
    if difficulty >= 2:
        h = w = rng.randint(4, 5)
        k, s, p = rng.choice([2, 3]), rng.choice([1, 2]), rng.randint(0, 1)
    if difficulty == 3:
        c_in = 2
    while True:
        body: dict[str, Any] = {"op": "conv2d", "input": ints(rng, (1, c_in, h, w), -2, 3),
                                "weight": ints(rng, (1, c_in, k, k), -1, 2), "stride": s, "padding": p}
        out = [(n + 2 * p - k) // s + 1 for n in (h, w)]
        body["grad_output"] = ints(rng, (1, 1, *out), -1, 2)
        right = _run("conv2d", body)["grad_weight"]
        if not np.array_equal(right, right[..., ::-1, ::-1]):  # a symmetric answer could not tell a flip
            break

    def mistakes() -> list[Mistake]:
        right = _run("conv2d", body)["grad_weight"]
        x, g = _t(body["input"]), _t(body["grad_output"])
        found = [Mistake("You flipped the kernel: grad_weight[o, i, a, b] = Σ grad_output[o, y, x] · "
                         "input[i, y·s − p + a, x·s − p + b] is a correlation, with no flip (the forward pass "
                         "did not flip either).", right[..., ::-1, ::-1].copy())]
        if s > 1:
            found.append(Mistake("You slid grad_output over the input one cell at a time; its cells sit stride "
                                 "cells apart in the input.", _attempt_stride1(x, g, body)))
        if p:
            found.append(Mistake("You left out the padding: the taps at the border read padding zeros.",
                                 _attempt_nopad(x, g, body)))
        return distinct([m for m in found if m.value is not None], None)

    prompt = (f"y = conv2d(input, weight, stride={s}, padding={p}) and grad_output = ∂L/∂y is given. {_XCORR} "
              f"{_planes('input', body['input'])}; weight is {'×'.join(map(str, np.shape(body['weight'])))}; "
              f"{_planes('grad_output', body['grad_output'])}. Compute grad_weight (shaped like the weight).")
    return Problem("Gradient of a convolution's weight", prompt, body, TENSOR_FORMAT,
                   lambda: _run("conv2d", body)["grad_weight"].tolist(), mistakes)


def _attempt_stride1(x: torch.Tensor, g: torch.Tensor, body: dict[str, Any]) -> Any:
    w_shape = np.shape(body["weight"])
    try:
        return torch.nn.grad.conv2d_weight(x, w_shape, g, 1, body["padding"]).numpy()
    except RuntimeError:
        return None


def _attempt_nopad(x: torch.Tensor, g: torch.Tensor, body: dict[str, Any]) -> Any:
    try:
        return torch.nn.grad.conv2d_weight(x, np.shape(body["weight"]), g, body["stride"], 0).numpy()
    except RuntimeError:
        return None


KINDS = {k.name: k for k in (
    Kind("pool_backward_values", "Gradient of a pooling layer",
         "grad_input of max_pool2d (each gradient to its window's argmax) or avg_pool2d (spread over the window, "
         "divided by torch's divisor) for a given grad_output.", "N×C×H×W nested lists",
         {1: "2×2 max pool", 2: "3×3 windows, stride 2, max or average", 3: "padding, count_include_pad"},
         _pool_backward),
    Kind("conv_weight_grad_values", "Gradient of a convolution's weight",
         f"grad_weight of a small conv2d for a given grad_output: the correlation of the input with grad_output. "
         f"{_XCORR}", "O×I×kH×kW nested lists",
         {1: "2×2 kernel, stride 1", 2: "stride and padding", 3: "two input channels"}, _weight_grad),
)}
