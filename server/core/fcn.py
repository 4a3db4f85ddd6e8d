"""A small classifier and its fully convolutional twin (the course's "convolutionalisation").

classifier: conv(3→8, 3×3) → ReLU → max_pool 2 → conv(8→16, 3×3) → ReLU → flatten → linear(16·h·w → classes)
twin:       the same convs, then a conv(16 → classes) whose kernel is h×w (the last feature map's size),
            its weight the linear layer's, reshaped: linear.weight.view(classes, 16, h, w).

On the training size the twin gives a 1×1 map equal to the classifier's logits. On a larger image it gives a
map of outputs, one per window of the training size, stride = the product of the strides (here 2); sliding
the classifier over crops at that stride gives the same map, recomputing every overlapping feature.
Float64 on the CPU, seeded weights; the MAC counts are the formulas', the times measured.
"""
from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from .exceptions import InvalidRequest

TRAIN = 12  # the training size: 12 → 10 → 5 → 3, so the last map is 3×3
STRIDE = 2
MAX_SIZE = 64


def _weights(classes: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, dtype=torch.float64, generator=g) * 0.3  # noqa: E731
    return {"w1": r(8, 3, 3, 3), "b1": r(8), "w2": r(16, 8, 3, 3), "b2": r(16), "wl": r(classes, 16 * 3 * 3),
            "bl": r(classes)}


def _features(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
    y = F.max_pool2d(F.relu(F.conv2d(x, w["w1"], w["b1"])), 2)
    return F.relu(F.conv2d(y, w["w2"], w["b2"]))


def classifier(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.linear(_features(x, w).flatten(1), w["wl"], w["bl"])


def twin(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.conv2d(_features(x, w), w["wl"].view(-1, 16, 3, 3), w["bl"])


def _macs(h: int, w: int, classes: int) -> int:
    """Multiply-accumulates of the twin on an h×w image (each conv: C_out·C_in·k²·H_out·W_out)."""
    h1, w1 = h - 2, w - 2
    h2, w2 = h1 // 2, w1 // 2
    h3, w3 = h2 - 2, w2 - 2
    return 8 * 3 * 9 * h1 * w1 + 16 * 8 * 9 * h3 * w3 + classes * 16 * 9 * (h3 - 2) * (w3 - 2)


def fully_convolutional(size: int = 20, classes: int = 4, seed: int = 0) -> dict[str, Any]:
    if not isinstance(seed, int) or not 0 <= seed <= 2**31:
        raise InvalidRequest(f"seed must be from 0 to 2^31, got {seed!r}.", ["seed"])
    if not TRAIN <= size <= MAX_SIZE:
        raise InvalidRequest(f"size must be from the training size {TRAIN} to {MAX_SIZE}, got {size}.", ["size"])
    if (size - TRAIN) % STRIDE:
        raise InvalidRequest(f"size − {TRAIN} must be a multiple of the network's stride {STRIDE} (so the windows "
                             f"tile the image), got size {size}.", ["size"])
    if not 1 <= classes <= 16:
        raise InvalidRequest(f"classes must be from 1 to 16, got {classes}.", ["classes"])
    w = _weights(classes, seed)
    g = torch.Generator().manual_seed(seed + 1)
    small = torch.randn(1, 3, TRAIN, TRAIN, dtype=torch.float64, generator=g)
    big = torch.randn(1, 3, size, size, dtype=torch.float64, generator=g)
    logits, twin_small = classifier(small, w), twin(small, w)
    t0 = time.perf_counter()
    dense = twin(big, w)
    t_twin = time.perf_counter() - t0
    n = (size - TRAIN) // STRIDE + 1
    t0 = time.perf_counter()
    slid = torch.stack([torch.stack([classifier(big[:, :, i * STRIDE:i * STRIDE + TRAIN, j * STRIDE:j * STRIDE + TRAIN], w)[0]
                                     for j in range(n)], -1) for i in range(n)], -2)[None]
    t_slide = time.perf_counter() - t0
    macs_twin = _macs(size, size, classes)
    macs_slide = n * n * _macs(TRAIN, TRAIN, classes)
    return {
        "train_size": TRAIN, "size": size, "classes": classes, "stride": STRIDE,
        "layers": ["conv2d(3→8, 3×3)", "relu", "max_pool2d(2)", "conv2d(8→16, 3×3)", "relu",
                   "flatten + linear(144 → classes) | conv2d(16 → classes, 3×3)"],
        "classifier_logits": logits[0].tolist(), "twin_on_train_size": twin_small[0, :, 0, 0].tolist(),
        "max_abs_difference": float((logits[0] - twin_small[0, :, 0, 0]).abs().max()),
        "image": big[0].tolist(), "map": dense[0].tolist(), "map_shape": list(dense.shape),
        "sliding": slid[0].tolist(), "map_vs_sliding_max_abs_difference": float((dense - slid).abs().max()),
        "cost": {"twin": {"macs": macs_twin, "seconds": t_twin, "windows": n * n},
                 "sliding": {"macs": macs_slide, "seconds": t_slide, "windows": n * n},
                 "macs_ratio": macs_slide / macs_twin},
    }
