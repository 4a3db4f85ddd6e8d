"""The fuzz run's case tally: every generated case is counted per operation, across xdist workers.

A worker hands its counts to the controller in `workeroutput`; the controller (or a plain run)
prints the total and fails the session when a whole fuzz run generated fewer than MIN_CASES.
"""
from __future__ import annotations

from collections import Counter

import pytest

#: Generated cases a full fuzz run must reach, over all operations together.
MIN_CASES = 2_000

_CASES: pytest.StashKey[Counter[str]] = pytest.StashKey()
_OPERATIONS: pytest.StashKey[set[str]] = pytest.StashKey()


def _stash(config: pytest.Config) -> tuple[Counter[str], set[str]]:
    return config.stash.setdefault(_CASES, Counter()), config.stash.setdefault(_OPERATIONS, set())


@pytest.fixture(scope="session")
def fuzz_tally(pytestconfig: pytest.Config) -> Counter[str]:
    """Cases generated in this process, by operation label ("POST /api/v1/ops/conv2d")."""
    return _stash(pytestconfig)[0]


def pytest_collection_finish(session: pytest.Session) -> None:
    # A module that fuzzes lists its operations in FUZZED_OPERATIONS; a full run is one that ran them all.
    operations = _stash(session.config)[1]
    for item in session.items:
        fuzzed = getattr(getattr(item, "module", None), "FUZZED_OPERATIONS", None)
        if fuzzed is not None and getattr(item, "originalname", None) == "test_openapi":
            operations.update(fuzzed)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: a plain run has no workers
def pytest_testnodedown(node: object, error: object) -> None:
    output = getattr(node, "workeroutput", {})
    cases, operations = _stash(node.config)  # type: ignore[attr-defined]
    cases.update(output.get("fuzz_cases", {}))
    operations.update(output.get("fuzz_operations", []))


def _shortfall(config: pytest.Config) -> str | None:
    cases, operations = _stash(config)
    total = sum(cases.values())
    if operations and set(cases) >= operations and total < MIN_CASES:
        return f"the fuzz run generated {total:,} cases, fewer than the {MIN_CASES:,} it must reach"
    return None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: the controller adds up and judges
        cases, operations = _stash(config)
        config.workeroutput["fuzz_cases"] = dict(cases)  # type: ignore[attr-defined]
        config.workeroutput["fuzz_operations"] = sorted(operations)  # type: ignore[attr-defined]
    elif _shortfall(config) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    cases, _ = _stash(config)
    if not cases:
        return
    terminalreporter.write_line(f"fuzz: {sum(cases.values()):,} generated cases over {len(cases)} operations "
                                f"(a full run needs {MIN_CASES:,})")
    if (shortfall := _shortfall(config)) is not None:
        terminalreporter.write_line(f"fuzz: FAILED: {shortfall}", red=True, bold=True)
