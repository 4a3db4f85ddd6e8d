"""Checks for notebooks (nbgrader, Jupyter): the verdict on stdout only, the score returned.

nbgrader gives 0 to a cell that writes to stderr, so nothing here does; a refused request is reported
as a line on stdout with score 0 rather than raised.

    from convscope.notebook import check
    check("conv_output_shape", seed=7, difficulty=1, answer=[1, 8, 5, 5])
"""
from __future__ import annotations

from typing import Any

from .core.exceptions import ConvscopeError
from .grading import grade


def check(kind: str, seed: int, difficulty: int, answer: Any) -> float:
    try:
        result = grade(kind, seed, difficulty, answer)
    except ConvscopeError as err:
        print(f"✗ 0/1 — {err.message}")
        return 0.0
    mark = "✓" if result["correct"] else "✗"
    print(f"{mark} {result['score']:g}/1 — {result['feedback']}")
    return float(result["score"])
