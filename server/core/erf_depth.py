"""The effective receptive field against depth (Luo et al. 2016), and stacks compared at equal r.

n stacked k×k convolutions (stride 1, no padding, one channel) on a (2·n·(k−1)/2·2 + 1)-wide input, so
the one output unit sees exactly its theoretical field r = n(k−1) + 1 and nothing is clipped. The ERF is
|∂y/∂x| (for random weights averaged over trials), read as a distribution over input positions:

    std   = sqrt(Σ m(u)·(u − ū)²) of its marginal m along one axis (in pixels)
    w95   = the narrowest centred width that holds 95 % of the mass along that axis

For uniform weights (1/k²) the marginal is the n-fold convolution of a box of k cells, whose variance is
n·(k²−1)/12 (a sum of n independent uniform steps): std = sqrt(n(k²−1)/12) — for k = 3, sqrt(2n/3). The
ERF grows as sqrt(n) while r grows as n: the effective fraction of the field shrinks as 1/sqrt(n).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .exceptions import InvalidRequest, TooLarge

MODES = ("uniform", "random", "random_relu")
MAX_DEPTH = 64
MAX_TRIALS = 32
MAX_WORK = 6_000  # layer runs: Σ depths × (2·trials + 1), about a few seconds on two cores


def _check(depths: list[int], kernel_size: int, trials: int) -> None:
    if not depths or len(depths) > MAX_DEPTH:
        raise InvalidRequest(f"depths must list 1 to {MAX_DEPTH} depths, got {len(depths)}.", ["depths"])
    bad = [n for n in depths if not 1 <= n <= MAX_DEPTH]
    if bad:
        raise InvalidRequest(f"every depth must be from 1 to {MAX_DEPTH}, got {bad[0]}.", ["depths"])
    if kernel_size not in (3, 5, 7):
        raise InvalidRequest(f"kernel_size must be 3, 5 or 7 (odd, so the unit sits at the centre), got "
                             f"{kernel_size}.", ["kernel_size"])
    if not 1 <= trials <= MAX_TRIALS:
        raise InvalidRequest(f"trials must be from 1 to {MAX_TRIALS}, got {trials}.", ["trials"])
    work = sum(depths) * (2 * trials + 1)
    if work > MAX_WORK:
        raise TooLarge(f"Σ depths × (2·trials + 1) = {sum(depths)} × {2 * trials + 1} = {work:,} layer runs, more "
                       f"than this server's cap of {MAX_WORK:,}: ask for fewer depths or fewer trials.", ["depths"])


def _erf(n: int, k: int, mode: str, trials: int, gen: torch.Generator) -> torch.Tensor:
    size = n * (k - 1) + 1
    total = torch.zeros(size, size, dtype=torch.float64)
    for _ in range(1 if mode == "uniform" else trials):
        if mode == "random_relu":
            x = torch.randn(1, 1, size, size, dtype=torch.float64, generator=gen)
        else:
            x = torch.zeros(1, 1, size, size, dtype=torch.float64)
        x.requires_grad_(True)
        y = x
        for layer in range(n):
            if mode == "uniform":
                w = torch.full((1, 1, k, k), 1.0 / (k * k), dtype=torch.float64)
            else:
                w = torch.randn(1, 1, k, k, dtype=torch.float64, generator=gen) / k
            y = F.conv2d(y, w)
            if mode == "random_relu" and layer < n - 1:
                y = F.relu(y)
        y.sum().backward()
        total += x.grad[0, 0].abs()
    return total


def _stats(erf: torch.Tensor) -> tuple[float, float]:
    marginal = erf.sum(dim=0)
    mass = marginal.sum()
    if mass <= 0:
        return 0.0, 0.0
    p = marginal / mass
    u = torch.arange(p.numel(), dtype=torch.float64)
    mean = (p * u).sum()
    std = float(((p * (u - mean) ** 2).sum()).sqrt())
    centre = (p.numel() - 1) // 2
    for half in range(centre + 1):
        if float(p[centre - half:centre + half + 1].sum()) >= 0.95:
            return std, float(2 * half + 1)
    return std, float(p.numel())


def erf_depth(depths: list[int], kernel_size: int = 3, trials: int = 8, seed: int = 0) -> dict[str, Any]:
    """std and 95 % width of the measured ERF per depth and mode, beside r and the sqrt law."""
    _check(depths, kernel_size, trials)
    gen = torch.Generator().manual_seed(seed)
    k = kernel_size
    rows = []
    for n in depths:
        row: dict[str, Any] = {"n": n, "r": n * (k - 1) + 1, "law_std": math.sqrt(n * (k * k - 1) / 12)}
        for mode in MODES:
            std, w95 = _stats(_erf(n, k, mode, trials, gen))
            row[mode] = {"std": std, "width95": w95}
        rows.append(row)
    return {"kernel_size": k, "trials": trials, "seed": seed, "modes": list(MODES),
            "law": f"std = sqrt(n(k²−1)/12) = sqrt({(k * k - 1)}n/12) for uniform weights", "depths": rows}


def compare_stacks(channels: int, size: int) -> dict[str, Any]:
    """One k×k conv beside (k−1)/2 stacked 3×3 convs: same r, fewer params and MACs (C→C, 'same' padding)."""
    if not 1 <= channels <= 4096:
        raise InvalidRequest(f"channels must be from 1 to 4096, got {channels}.", ["channels"])
    if not 1 <= size <= 4096:
        raise InvalidRequest(f"size must be from 1 to 4096, got {size}.", ["size"])
    pairs = []
    for k in (5, 7):
        stacked = (k - 1) // 2
        one = {"layers": [f"{k}×{k}"], "r": k, "params": channels * channels * k * k + channels,
               "macs": channels * channels * k * k * size * size}
        many = {"layers": ["3×3"] * stacked, "r": 2 * stacked + 1,
                "params": stacked * (channels * channels * 9 + channels),
                "macs": stacked * channels * channels * 9 * size * size}
        pairs.append({"single": one, "stack": many, "ratio_params": many["params"] / one["params"],
                      "ratio_macs": many["macs"] / one["macs"]})
    return {"channels": channels, "size": size, "pairs": pairs}
