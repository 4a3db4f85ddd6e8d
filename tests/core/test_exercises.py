"""Exercises: pure functions of (kind, seed, difficulty), the same in every process; the grader accepts
the revealed answer, rejects a perturbed one, never fails on a malformed one, and names common mistakes."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convscope.core import exercises
from convscope.core.exceptions import InvalidRequest

ROOT = Path(__file__).resolve().parents[2]
KINDS = list(exercises.KINDS)
SEEDS = range(50)


def perturb(value: Any) -> Any:
    """The same answer with its first number moved by one."""
    if isinstance(value, dict):
        key = next(iter(value))
        return value | {key: perturb(value[key])}
    if isinstance(value, list):
        value = copy.deepcopy(value)
        inner = value
        while isinstance(inner[0], list):
            inner = inner[0]
        inner[0] += 1
        return value
    return value + 1


@pytest.mark.parametrize("difficulty", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_revealed_answer_is_accepted_and_a_perturbed_one_rejected(kind, difficulty):
    for seed in SEEDS:
        created = exercises.create(kind, seed, difficulty)
        assert created["prompt"] and created["given"] and created["answer_format"]["type"]
        expected = exercises.grade(kind, seed, difficulty, answer=None, reveal=True)["expected"]
        right = exercises.grade(kind, seed, difficulty, answer=expected)
        assert (right["correct"], right["score"], right["feedback"][:7]) == (True, 1.0, "Correct"), (seed, right)
        assert "expected" not in right
        wrong = exercises.grade(kind, seed, difficulty, answer=perturb(expected))
        assert wrong["correct"] is False and 0 <= wrong["score"] < 1 and wrong["feedback"], (seed, wrong)


_SNIPPET = """
import json, sys
from convscope.core import exercises
out = []
for kind in exercises.KINDS:
    for seed, difficulty in ((0, 1), (7, 2), (123456789, 3)):
        out.append([exercises.create(kind, seed, difficulty),
                    exercises.grade(kind, seed, difficulty, answer=None, reveal=True)["expected"]])
sys.stdout.write(json.dumps(out, sort_keys=True))
"""


def test_exercises_are_identical_across_processes():
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", _SNIPPET], cwd=ROOT, env=env | {"PYTHONHASHSEED": h},
                           capture_output=True, text=True, check=True, timeout=120).stdout for h in ("1", "2")]
    here = []
    for kind in exercises.KINDS:
        for seed, difficulty in ((0, 1), (7, 2), (123456789, 3)):
            here.append([exercises.create(kind, seed, difficulty),
                         exercises.grade(kind, seed, difficulty, answer=None, reveal=True)["expected"]])
    assert runs[0] == runs[1] == json.dumps(here, sort_keys=True)


MALFORMED = [
    pytest.param("conv_output_values", "12", "must be a nested list of numbers", id="string"),
    pytest.param("conv_output_values", [[[["1", 2]]]], "holds str", id="string-element"),
    pytest.param("conv_output_values", [[[[float("nan")]]]], "finite", id="nan"),
    pytest.param("conv_output_values", [[[[True]]]], "boolean", id="bool"),
    pytest.param("conv_output_values", [[[[1, 2], [3]]]], "ragged", id="ragged"),
    pytest.param("conv_output_values", [[1, 2], [3, 4]], "shape 2×2", id="wrong-rank"),
    pytest.param("conv_output_values", [], "empty", id="empty"),
    pytest.param("conv_output_values", {"output": 1}, "nested list", id="object"),
    pytest.param("conv_output_values", None, "no answer", id="missing"),
    pytest.param("conv_output_shape", [1, 2, 3], "list of 4 integers", id="shape-too-short"),
    pytest.param("conv_output_shape", [1, 2, 3.5, 4], "whole number", id="shape-fraction"),
    pytest.param("conv_output_shape", "1x8x3x3", "list of 4 integers", id="shape-string"),
    pytest.param("param_count", "many", "whole number", id="count-string"),
    pytest.param("param_count", float("inf"), "whole number", id="count-infinite"),
    pytest.param("receptive_field", [7], "must be an object", id="rf-not-object"),
    pytest.param("receptive_field", {"r": "7"}, "whole number", id="rf-string-field"),
    pytest.param("conv_backward_values", {"grad_input": [[[[None]]]]}, "null", id="grad-null"),
]


@pytest.mark.parametrize(("kind", "answer", "fragment"), MALFORMED)
def test_malformed_answers_score_zero_with_a_sentence(kind, answer, fragment):
    result = exercises.grade(kind, 3, 1, answer=answer)
    assert (result["correct"], result["score"]) == (False, 0.0)
    assert fragment in result["feedback"] and result["feedback"].rstrip().endswith((".", ")")), result["feedback"]


def _mistake_seed(kind: str, difficulty: int, fragment: str) -> tuple[int, Any, Any]:
    """The first seed whose exercise has a mistake with this sentence, and that mistake's answer."""
    for seed in range(200):
        _, problem = exercises._problem(kind, seed, difficulty)
        expected = problem.solve()
        for m in problem.mistakes():
            if fragment in m.sentence and m.value is not None:
                value = m.value.tolist() if hasattr(m.value, "tolist") else m.value
                if not exercises._equal(value, expected[m.field] if m.field else expected):
                    return seed, (dict(expected) | {m.field: value}) if m.field else value, expected
    raise AssertionError(f"no {kind} exercise has the mistake {fragment!r}")


@pytest.mark.parametrize(("kind", "difficulty", "fragment"), [
    pytest.param("conv_output_shape", 2, "rounded the division up", id="ceil-instead-of-floor"),
    pytest.param("conv_output_shape", 3, "left out the dilation", id="dilation-forgotten"),
    pytest.param("conv_transpose_output_shape", 2, "left out output_padding", id="output-padding-shape"),
    pytest.param("conv_transpose_output_values", 2, "left out output_padding", id="output-padding-values"),
    pytest.param("conv_output_values", 1, "flipped the kernel", id="kernel-flipped"),
    pytest.param("conv_output_values", 2, "shifted by one cell at a padded border", id="off-by-one-border"),
    pytest.param("conv_transpose_output_values", 1, "flipped the kernel", id="transpose-kernel-flipped"),
    pytest.param("conv_backward_values", 1, "unrotated", id="grad-input-kernel-not-flipped"),
    pytest.param("conv_backward_values", 2, "rotated by 180°", id="grad-weight-flipped-by-mistake"),
    pytest.param("pool_backward_values", 1, "every cell of the window", id="max-pool-grad-spread"),
    pytest.param("conv_weight_grad_values", 1, "flipped the kernel", id="weight-grad-flipped"),
    pytest.param("pool_backward_values", 3, "divisor is wrong", id="avg-pool-grad-divisor"),
    pytest.param("pool_backward_values", 2, "did not divide", id="avg-pool-grad-undivided"),
    pytest.param("pool_output_values", 3, "count_include_pad", id="count-include-pad"),
    pytest.param("unpool_output_values", 1, "top-left", id="unpool-top-left"),
    pytest.param("receptive_field", 3, "left out the dilation", id="rf-dilation"),
    pytest.param("param_count", 2, "G times fewer weights", id="groups-ignored"),
])
def test_feedback_names_the_mistake(kind, difficulty, fragment):
    seed, answer, _ = _mistake_seed(kind, difficulty, fragment)
    result = exercises.grade(kind, seed, difficulty, answer=answer)
    assert result["correct"] is False and fragment in result["feedback"], result["feedback"]


def test_feedback_does_not_give_the_answer_away():
    expected = exercises.grade("param_count", 5, 1, reveal=True)["expected"]
    assert str(expected) not in exercises.grade("param_count", 5, 1, answer=expected + 12345)["feedback"]


def test_partial_credit_is_the_fraction_of_right_elements():
    expected = np.array(exercises.grade("conv_output_values", 4, 1, reveal=True)["expected"])
    answer = expected.copy()
    answer.reshape(-1)[:2] += 10
    result = exercises.grade("conv_output_values", 4, 1, answer=answer.tolist())
    assert result["score"] == pytest.approx(1 - 2 / expected.size) and not result["correct"]


@pytest.mark.parametrize(("expected", "answer", "correct"), [
    pytest.param(1 / 3, 0.3333333, True, id="seven-digits"),
    pytest.param(1 / 3, 0.33333, False, id="five-digits"),
    pytest.param(0.0, 1e-15, True, id="zero-within-1e-14"),
    pytest.param(0.0, 1e-12, False, id="zero-off-by-1e-12"),
    pytest.param(-2.5, -2.5000001, True, id="negative"),
])
def test_elementwise_relative_error(expected, answer, correct):
    fmt = {"type": "tensor", "rank": 1}
    score, ok, _ = exercises.grade_answer(fmt, [answer, 1.0], [expected, 1.0], list)
    assert ok is correct and score == (1.0 if correct else 0.5)


def test_integral_floats_count_as_integers():
    expected = exercises.grade("conv_output_shape", 1, 1, reveal=True)["expected"]
    assert exercises.grade("conv_output_shape", 1, 1, answer=[float(v) for v in expected])["correct"]


@pytest.mark.parametrize(("args", "fragment"), [
    pytest.param(("conv_output_value", 0, 1), "Did you mean 'conv_output_values'?", id="unknown-kind"),
    pytest.param((3, 0, 1), "no exercise kind 3", id="kind-not-string"),
    pytest.param(("param_count", -1, 1), "seed must be an integer", id="negative-seed"),
    pytest.param(("param_count", "7", 1), "seed must be an integer", id="string-seed"),
    pytest.param(("param_count", True, 1), "seed must be an integer", id="bool-seed"),
    pytest.param(("param_count", 2**63, 1), "seed must be an integer", id="huge-seed"),
    pytest.param(("param_count", 0, 4), "difficulty must be 1, 2 or 3", id="difficulty-4"),
    pytest.param(("param_count", 0, 1.0), "difficulty must be 1, 2 or 3", id="difficulty-float"),
])
def test_bad_requests_are_refused(args, fragment):
    for call in (exercises.create, exercises.grade):
        with pytest.raises(InvalidRequest) as info:
            call(*args)
        assert fragment in info.value.message


def test_kinds_listing_covers_every_kind_and_the_rule():
    listed = exercises.kinds()
    assert [k["kind"] for k in listed] == KINDS == [
        "conv_output_shape", "conv_output_values", "conv_transpose_output_shape", "conv_transpose_output_values",
        "pool_output_values", "unpool_output_values", "receptive_field", "param_count", "conv_backward_values",
        "pool_backward_values", "conv_weight_grad_values"]  # API.md's nine first; the list only grows
    assert all(set(k["difficulties"]) == {"1", "2", "3"} and k["description"] for k in listed)
    assert "max(1e−8, |a_i| + |b_i|)" in exercises.GRADING["values"]
