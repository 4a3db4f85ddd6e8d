"""The load benchmark's parts that its figures rest on: distinct student photos, the percentiles, the /proc readings."""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time

import pytest
from PIL import Image

from bench.__main__ import BENCHMARKS, main, table
from bench.common import Row, percentile
from bench.lecture import student_image
from bench.procmem import RssSampler, descendants, rss_bytes, tree_cpu_seconds, tree_rss_bytes


def test_every_student_uploads_a_different_real_photo() -> None:
    images = [student_image(i) for i in range(6)]
    assert len({hashlib.sha256(data).hexdigest() for _, data, _ in images}) == 6
    for i, (name, data, kind) in enumerate(images):
        im = Image.open(io.BytesIO(data))
        assert im.size == (512, 512) and im.mode == "RGB"
        assert (im.format, kind) == (("PNG", "image/png") if i % 3 == 0 else ("JPEG", "image/jpeg")), name


@pytest.mark.parametrize("q,expected", [
    pytest.param(0.50, 50, id="p50"), pytest.param(0.95, 95, id="p95"), pytest.param(0.99, 99, id="p99"),
    pytest.param(1.0, 100, id="max"), pytest.param(0.0, 1, id="min"),
])
def test_percentile_is_nearest_rank(q: float, expected: int) -> None:
    assert percentile([float(v) for v in range(1, 101)], q) == expected


def test_process_tree_memory_and_cpu_include_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; b = b'x' * (64 << 20); time.sleep(30)"])
    try:
        for _ in range(100):  # until the child holds its 64 MiB
            if rss_bytes(child.pid) > 64 << 20:
                break
            time.sleep(0.05)
        assert child.pid in descendants(os.getpid())
        assert tree_rss_bytes(os.getpid()) >= rss_bytes(os.getpid()) + (64 << 20)
        assert tree_cpu_seconds(os.getpid()) > 0
        with RssSampler(os.getpid(), interval_s=0.01) as sampler:
            time.sleep(0.1)
        assert sampler.peak >= 64 << 20 and sampler.samples
    finally:
        child.kill()
        child.wait(10)


def test_runner_table_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    text = table([Row("load", "errors", "0 of 10", "goal 0")], "# header")
    assert text.splitlines() == ["# header", "", "| benchmark | measure | value | ratio |", "|---|---|---|---|",
                                 "| load | errors | 0 of 10 | goal 0 |"]
    assert set(BENCHMARKS) == {"ops", "pipeline", "frames", "lab", "networks", "load"}
    with pytest.raises(SystemExit):
        main(["nonesuch"])
    assert "unknown benchmark" in capsys.readouterr().err
