"""plot.js's formatCount writes whole counts as toLocaleString("en-US") does, without ICU's number formatter
(whose first use cost a page's first drawing 10–23 ms): checked in Node.js against toLocaleString itself."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

PLOT = pathlib.Path(__file__).resolve().parents[2] / "static/js/plot.js"
NODE = shutil.which("node")
CHECK = """import { formatCount } from %s;
const values = JSON.parse(process.argv[2]);
const wrong = values.filter((v) => formatCount(v) !== Number(v).toLocaleString("en-US"));
console.log(JSON.stringify(wrong));"""


def _wrong(tmp: pathlib.Path, values: list) -> list:
    assert NODE, "Node.js runs this check: scripts/setup test installs it (with npm, for axe-core)"
    script = tmp / "check.mjs"
    script.write_text(CHECK % json.dumps(PLOT.as_uri()), encoding="utf-8")
    done = subprocess.run([NODE, str(script), json.dumps(values)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@settings(max_examples=10, deadline=None)
@given(values=st.lists(st.one_of(st.integers(-(2**53 - 1), 2**53 - 1), st.integers(-10**7, 10**7),
                                 st.floats(-1e9, 1e9, allow_nan=False)), min_size=1, max_size=200))
def test_counts_are_written_as_to_locale_string_writes_them(tmp_path_factory, values: list) -> None:
    assert _wrong(tmp_path_factory.mktemp("count"), values) == []


def test_published_counts(tmp_path) -> None:
    assert _wrong(tmp_path, [0, 999, 1000, -1000, 61100840, 138357544, "11689512", 2**53 - 1, 0.5, 1234.5]) == []


def test_negative_zero_is_written_as_to_locale_string_writes_it(tmp_path) -> None:
    assert _wrong(tmp_path, [-0.0, 0.0, -0.4]) == []
