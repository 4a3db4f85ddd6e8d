"""Helpers for otter-grader test cases: a case passes when convscope grades the answer correct.

In an otter test file (OK format), a case's code can be:

    >>> from convscope.otter import assert_correct
    >>> assert_correct("pool_output_values", 3, 1, answer)

A wrong answer fails the case with convscope's feedback as the assertion message.
"""
from __future__ import annotations

from typing import Any

from .grading import grade


def assert_correct(kind: str, seed: int, difficulty: int, answer: Any) -> None:
    result = grade(kind, seed, difficulty, answer)
    assert result["correct"], result["feedback"]


def score(kind: str, seed: int, difficulty: int, answer: Any) -> float:
    """The partial score in [0, 1], for a case that weighs it."""
    return float(grade(kind, seed, difficulty, answer)["score"])
