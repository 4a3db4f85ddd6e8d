"""Every setting is declared once (server/settings.py) and the README's table is printed from those declarations."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from convscope.settings import Settings, SettingsError, table_rows

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]


def _table_variables() -> set[str]:
    return set(re.findall(r"^\| `(CONVSCOPE_[A-Z0-9_]+)` \|", _section(), flags=re.MULTILINE))


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in Settings.model_fields])
def test_setting_has_a_readme_row(name: str) -> None:
    assert f"CONVSCOPE_{name.upper()}" in _table_variables(), \
        f"README's Settings table has no row for CONVSCOPE_{name.upper()}"


def test_readme_table_is_the_declarations() -> None:
    rows = [line for line in _section().splitlines() if line.startswith("|")]
    assert rows == list(table_rows()), "run `python -m convscope.settings` and paste its table into README.md"


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in Settings.model_fields])
def test_every_setting_says_what_it_means(name: str) -> None:
    assert len(Settings.model_fields[name].description or "") > 10


def test_new_variables_are_read_from_the_environment() -> None:
    s = Settings.from_env({"CONVSCOPE_KEEP_ALIVE_S": "30", "CONVSCOPE_MAX_CONNECTIONS": "100",
                           "CONVSCOPE_GRACEFUL_SHUTDOWN_S": "3", "CONVSCOPE_HTTP": "h11"})
    assert (s.keep_alive_s, s.max_connections, s.graceful_shutdown_s, s.http) == (30, 100, 3, "h11")


def test_an_explicit_environment_is_read_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVSCOPE_MAX_QUEUE", "7")
    assert Settings.from_env().max_queue == 7
    assert Settings.from_env({}).max_queue == Settings.model_fields["max_queue"].default


@pytest.mark.parametrize(("values", "words"), [
    pytest.param({"max_concurrency": 0}, "CONVSCOPE_MAX_CONCURRENCY=0: must be an integer from 1 to 256.", id="range"),
    pytest.param({"queue_timeout_s": 0.0}, "CONVSCOPE_QUEUE_TIMEOUT_S=0.0: must be a number from 0.001 to 3,600.",
                 id="float-range"),
    pytest.param({"http": "h3"}, "CONVSCOPE_HTTP='h3': must be one of auto, h11.", id="choice"),
    pytest.param({"max_queu": 3}, "'max_queu' is not a setting", id="unknown"),
])
def test_settings_made_in_code_are_checked_the_same_way(values: dict[str, object], words: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings(**values)  # type: ignore[arg-type]
    assert str(info.value).startswith(words) and "\n" not in str(info.value)
