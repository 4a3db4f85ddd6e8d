"""Every Settings field is a row of the README's Settings table, and every row is a field."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from convscope.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _table_variables() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(CONVSCOPE_[A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


@pytest.mark.parametrize("name", [pytest.param(f.name, id=f.name) for f in fields(Settings)])
def test_setting_has_a_readme_row(name: str) -> None:
    assert f"CONVSCOPE_{name.upper()}" in _table_variables(), \
        f"README's Settings table has no row for CONVSCOPE_{name.upper()}"


def test_readme_rows_are_settings() -> None:
    known = {f"CONVSCOPE_{f.name.upper()}" for f in fields(Settings)}
    assert _table_variables() - known == set()


def test_new_variables_are_read_from_the_environment() -> None:
    s = Settings.from_env({"CONVSCOPE_KEEP_ALIVE_S": "30", "CONVSCOPE_MAX_CONNECTIONS": "100",
                           "CONVSCOPE_GRACEFUL_SHUTDOWN_S": "3", "CONVSCOPE_HTTP": "h11"})
    assert (s.keep_alive_s, s.max_connections, s.graceful_shutdown_s, s.http) == (30, 100, 3, "h11")
