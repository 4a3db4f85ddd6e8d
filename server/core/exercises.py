"""Seeded exercises and their grader: stateless, an exercise is a pure function of (kind, seed, difficulty).

The generators (exercise_kinds.py) draw from random.Random(f"{kind}:{seed}:{difficulty}") — seeded from
the string through SHA-512, so the same exercise comes back in every process, on every machine (never
Python's salted hash()). Expected answers come from run_op in float64 on the CPU.

Grading (API.md): shapes and integers exactly; values by relative error, read elementwise:

    rel_error_i = |a_i − b_i| / max(1e−8, |a_i| + |b_i|),   an element is right when rel_error_i ≤ 1e−6

so every element, small ones too, must carry about six significant digits, and an expected 0 takes an
answer within 1e−14 (exercise values are small integers or short fractions, exact in float64). The
answer is correct when every element is right; its score is the fraction of right elements. An answer
of the wrong shape, or malformed (strings, booleans, null, NaN, ragged lists), scores 0 with a sentence
that says why; it is never an error status. A wrong answer is compared with the results of common
mistakes (floor vs ceil, dilation forgotten, output_padding missed, a border shifted by one, the kernel
flipped, ...) and the feedback names the one it matches, without giving the expected values away.
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable

import numpy as np

from . import exercise_backward, exercise_kinds, exercise_values
from .exceptions import ConvscopeError, InvalidRequest, did_you_mean
from .exercise_kinds import Kind, Mistake, Problem
from .tensors import parse_tensor

TOLERANCE = 1e-6
FLOOR = 1e-8
MAX_SEED = 2**63
GRADING = {
    "values": "rel_error_i = |a_i − b_i| / max(1e−8, |a_i| + |b_i|) per element; an element is right when "
              "rel_error_i ≤ 1e−6; correct when all are; score = the fraction that are.",
    "tolerance": TOLERANCE,
    "shapes_and_integers": "exact (an integral float such as 7.0 counts as 7); score = the fraction of entries right.",
    "malformed": "an answer of the wrong shape or type scores 0 with a feedback sentence, HTTP 200.",
    "objects": "answers with several fields score the mean of the fields' scores.",
}
_ORDER = ("conv_output_shape", "conv_output_values", "conv_transpose_output_shape", "conv_transpose_output_values",
          "pool_output_values", "unpool_output_values", "receptive_field", "param_count", "conv_backward_values",
          "pool_backward_values", "conv_weight_grad_values")
_ALL = {**exercise_kinds.KINDS, **exercise_values.KINDS, **exercise_backward.KINDS}
KINDS: dict[str, Kind] = {name: _ALL[name] for name in _ORDER}


def kinds() -> list[dict[str, Any]]:
    return [{"kind": k.name, "title": k.title, "description": k.description, "answer": k.answer,
             "difficulties": {str(d): text for d, text in k.difficulties.items()}} for k in KINDS.values()]


def _check(kind: Any, seed: Any, difficulty: Any) -> Kind:
    registry = KINDS
    if not isinstance(kind, str) or kind not in registry:
        hint = did_you_mean(kind, registry, sentence=True)
        raise InvalidRequest(f"There is no exercise kind {kind!r}.{hint} The kinds are: {', '.join(registry)}.",
                             ["kind"])
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < MAX_SEED:
        raise InvalidRequest(f"seed must be an integer from 0 to 2^63 − 1, got {seed!r}.", ["seed"])
    if not isinstance(difficulty, int) or isinstance(difficulty, bool) or difficulty not in (1, 2, 3):
        raise InvalidRequest(f"difficulty must be 1, 2 or 3, got {difficulty!r}.", ["difficulty"])
    return registry[kind]


def _problem(kind: str, seed: int, difficulty: int) -> tuple[Kind, Problem]:
    spec = _check(kind, seed, difficulty)
    return spec, spec.generate(random.Random(f"{kind}:{seed}:{difficulty}"), difficulty)


def create(kind: Any, seed: Any = 0, difficulty: Any = 1) -> dict[str, Any]:
    _, problem = _problem(kind, seed, difficulty)
    return {"kind": kind, "seed": seed, "difficulty": difficulty, "title": problem.title, "prompt": problem.prompt,
            "given": problem.given, "answer_format": problem.answer_format}


def grade(kind: Any, seed: Any = 0, difficulty: Any = 1, answer: Any = None, reveal: Any = False) -> dict[str, Any]:
    if not isinstance(reveal, bool):
        raise InvalidRequest(f"reveal must be true or false, got {reveal!r}.", ["reveal"])
    _, problem = _problem(kind, seed, difficulty)
    expected = problem.solve()
    score, correct, feedback = grade_answer(problem.answer_format, answer, expected, problem.mistakes)
    result = {"kind": kind, "seed": seed, "difficulty": difficulty, "correct": correct, "score": score,
              "feedback": feedback}
    if reveal:
        result["expected"] = expected
    return result


# ---------------------------------------------------------------- grading
class _Malformed(Exception):
    pass


def grade_answer(fmt: dict[str, Any], answer: Any, expected: Any, mistakes: Callable[[], list[Mistake]]
                 ) -> tuple[float, bool, str]:
    """(score, correct, feedback) for any answer whatsoever."""
    if answer is None:
        return 0.0, False, "Graded 0: no answer was given; send it as \"answer\", shaped as answer_format says."
    known: list[list[Mistake]] = []

    def lazy() -> list[Mistake]:  # the mistaken computations run only for a wrong answer, once
        if not known:
            right = (lambda m: expected[m.field]) if fmt["type"] == "object" else (lambda m: expected)
            known.append([m for m in mistakes() if m.value is None or not _equal(m.value, right(m))])
        return known[0]

    if fmt["type"] != "object":
        return _grade_one(fmt, answer, expected, lambda: [m for m in lazy() if m.field is None])
    if not isinstance(answer, dict):
        return 0.0, False, (f"Graded 0: the answer must be an object with the fields "
                            f"{', '.join(fmt['fields'])}, got {_what(answer)}.")
    scores, sentences = [], []
    for name, sub in fmt["fields"].items():
        if name not in answer:
            scores.append(0.0)
            sentences.append(f"{name}: missing (0).")
            continue
        s, _, text = _grade_one(sub, answer[name], expected[name],
                                 lambda name=name: [m for m in lazy() if m.field == name], label=name)
        scores.append(s)
        sentences.append(f"{name}: {text}")
    extra = sorted(set(answer) - set(fmt["fields"]))
    if extra:
        sentences.append(f"(Ignored: {', '.join(map(str, extra))}.)")
    score = sum(scores) / len(scores)
    if all(s == 1.0 for s in scores):
        names = list(fmt["fields"])
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return 1.0, True, f"Correct: {listed} {'matches' if len(names) == 1 else 'all match'}."
    return score, False, " ".join(sentences)


def _what(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integral(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Malformed(f"{label} must be a whole number, got {_what(value)}.")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise _Malformed(f"{label} must be a whole number, got {_what(value)}.")
    return int(value)


def _grade_one(fmt: dict[str, Any], answer: Any, expected: Any, mistakes: Callable[[], list[Mistake]],
               label: str = "answer") -> tuple[float, bool, str]:
    try:
        if fmt["type"] == "shape":
            return _grade_shape(fmt, answer, expected, mistakes, label)
        if fmt["type"] == "integer":
            return _grade_integer(answer, expected, mistakes, label)
        return _grade_values(answer, np.asarray(expected, dtype=np.float64), mistakes, label)
    except _Malformed as exc:
        return 0.0, False, f"Graded 0: {exc}"


def _grade_shape(fmt: dict[str, Any], answer: Any, expected: list[int], mistakes: Callable[[], list[Mistake]],
                 label: str) -> tuple[float, bool, str]:
    names = fmt.get("names", [])
    if not isinstance(answer, list) or len(answer) != len(expected):
        raise _Malformed(f"{label} must be a list of {len(expected)} integers {fmt.get('layout', '')}, got "
                         f"{_what(answer)}.".replace("  ", " "))
    got = [_integral(v, f"{label}[{i}]") for i, v in enumerate(answer)]
    right = [g == e for g, e in zip(got, expected)]
    score = sum(right) / len(right)
    if all(right):
        return 1.0, True, "Correct."
    for m in mistakes():
        if m.value is not None and list(m.value) == got:
            return score, False, m.sentence
    wrong = [names[i] if i < len(names) else f"entry {i}" for i, ok in enumerate(right) if not ok]
    return score, False, f"Not quite: {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong."


def _grade_integer(answer: Any, expected: int, mistakes: Callable[[], list[Mistake]], label: str
                   ) -> tuple[float, bool, str]:
    got = _integral(answer, label)
    if got == expected:
        return 1.0, True, "Correct."
    for m in mistakes():
        if m.value is not None and m.value == got:
            return 0.0, False, m.sentence
    return 0.0, False, f"Not quite: {_what(got)} is too {'large' if got > expected else 'small'}."


def rel_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise |a − b| / max(1e−8, |a| + |b|)."""
    return np.abs(a - b) / np.maximum(FLOOR, np.abs(a) + np.abs(b))


def _equal(a: Any, b: Any) -> bool:
    """A mistake that gives the right answer here is no mistake to report."""
    try:
        return _close(np.asarray(a, dtype=np.float64), b)
    except (TypeError, ValueError):
        return False


def _close(a: np.ndarray, b: Any) -> bool:
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool((rel_error(a, b) <= TOLERANCE).all())


def _grade_values(answer: Any, expected: np.ndarray, mistakes: Callable[[], list[Mistake]], label: str
                  ) -> tuple[float, bool, str]:
    if expected.ndim == 0:
        try:
            value = float(answer) if isinstance(answer, (int, float)) and not isinstance(answer, bool) else math.nan
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise _Malformed(f"{label} must be a finite number, got {_what(answer)}.")
        a = np.asarray(value)
    else:
        try:
            a = parse_tensor(answer, label, cap=max(10_000, 10 * expected.size))
        except ConvscopeError as exc:
            raise _Malformed(exc.message) from None
    if a.shape != expected.shape:
        for m in mistakes():
            shape = m.shape if m.shape is not None else (None if m.value is None else np.shape(m.value))
            if shape == a.shape and (m.value is None or _close(a, m.value)):
                return 0.0, False, f"Graded 0: {m.sentence}"
        return 0.0, False, (f"Graded 0: {label} has shape {_shape(a.shape)}, which is not the shape of the result "
                            f"(rank {expected.ndim}); check the size formula, and keep every axis, size-1 ones too.")
    right = rel_error(a, expected) <= TOLERANCE
    score = float(right.mean())
    if right.all():
        return 1.0, True, "Correct." if a.size == 1 else f"Correct: all {a.size} values match."
    for m in mistakes():
        if m.value is not None and _close(a, m.value):
            return score, False, m.sentence
    if a.size == 1:
        return 0.0, False, "Not quite: that value is off."
    first = "".join(f"[{i}]" for i in np.argwhere(~right)[0])
    wrong = int((~right).sum())
    return score, False, (f"{wrong} of {a.size} values {'is' if wrong == 1 else 'are'} off (relative error above "
                          f"1e−6); the first is {label}{first}.")


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "a scalar"
