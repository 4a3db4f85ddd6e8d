"""Offline grading: the exercises of POST /api/v1/exercises and /exercises/grade, without a server.

`exercise` and `grade` return exactly the JSON those endpoints return (the routes call these very
functions), so an autograder with no network (PrairieLearn's external graders, nbgrader, otter) gets the
same prompt, the same score and the same feedback. A refused request raises `convscope.GradingError`
with the API's sentence and status. Result files for the platforms are built here too.
"""
from __future__ import annotations

from typing import Any

from .core import exercises
from .core.exceptions import ConvscopeError as GradingError


def kinds() -> dict[str, Any]:
    """What GET /api/v1/exercises/kinds returns."""
    return {"ok": True, "kinds": exercises.kinds(), "grading": exercises.GRADING}


def exercise(kind: str, seed: int = 0, difficulty: int = 1) -> dict[str, Any]:
    """What POST /api/v1/exercises returns for this (kind, seed, difficulty)."""
    return {"ok": True, **exercises.create(kind, seed, difficulty)}


def grade(kind: str, seed: int, difficulty: int, answer: Any, reveal: bool = False) -> dict[str, Any]:
    """What POST /api/v1/exercises/grade returns for this answer."""
    return {"ok": True, **exercises.grade(kind, seed, difficulty, answer, reveal)}


def _name(result: dict[str, Any]) -> str:
    return f"{result['kind']} (seed {result['seed']}, difficulty {result['difficulty']})"


def gradescope_results(result: dict[str, Any], max_score: float = 1.0) -> dict[str, Any]:
    """Gradescope's results.json for one graded answer (its autograder specification's fields)."""
    score = round(result["score"] * max_score, 6)
    return {"score": score, "output": result["feedback"],
            "tests": [{"name": _name(result), "score": score, "max_score": max_score, "output": result["feedback"],
                       "status": "passed" if result["correct"] else "failed", "visibility": "visible"}]}


def prairielearn_results(result: dict[str, Any], max_points: float = 1.0) -> dict[str, Any]:
    """PrairieLearn's external-grader results for one graded answer (score in [0, 1])."""
    return {"gradable": True, "score": result["score"], "message": result["feedback"],
            "tests": [{"name": _name(result), "points": round(result["score"] * max_points, 6),
                       "max_points": max_points, "message": result["feedback"]}]}


def results_file(result: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The result file of `fmt`: "gradescope", "prairielearn" or "json" (the API's own answer)."""
    if fmt == "gradescope":
        return gradescope_results(result)
    if fmt == "prairielearn":
        return prairielearn_results(result)
    if fmt == "json":
        return result
    raise ValueError(f"format must be gradescope, prairielearn or json, not {fmt!r}")


__all__ = ["GradingError", "exercise", "grade", "gradescope_results", "kinds", "prairielearn_results",
           "results_file"]
