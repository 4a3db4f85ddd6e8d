"""The load benchmark's parts that its figures rest on: distinct student photos, the percentiles, the /proc readings."""
from __future__ import annotations

import asyncio
import hashlib
import http.server
import io
import os
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

from bench.__main__ import BENCHMARKS, main, table
from bench.common import Row, percentile, post_read
from bench.lecture import student_image
from bench.procmem import (RssSampler, cpu_seconds, descendants, main_thread_cpu_seconds, rss_bytes, tree_cpu_seconds,
                           tree_rss_bytes)


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


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers a POST with its body reversed: with a Content-Length on /length, in three chunks on /chunked."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))[::-1]
        self.send_response(201 if self.path == "/length" else 200)
        if self.path == "/length":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        third = len(body) // 3 + 1
        for part in (body[:third], body[third:2 * third], body[2 * third:]):
            if part:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("path,status", [("/length", 201), ("/chunked", 200)])
def test_the_lean_client_reads_whole_answers(path: str, status: int) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        body = os.urandom(3 << 20)  # larger than one read, and than the reader's 1 MiB limit
        assert asyncio.run(post_read(url, path, body)) == (status, body[::-1])
    finally:
        server.shutdown()
        server.server_close()


def test_the_main_thread_cpu_is_part_of_the_process_cpu() -> None:
    spin = "import threading, time\nt = time.time()\nwhile time.time() - t < 1.0: pass\n" \
           "s = threading.Thread(target=lambda: [0 for _ in iter(lambda: time.time() - t < 2.0, False)])\n" \
           "s.start(); s.join(); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(2.5)
        main_s, all_s = main_thread_cpu_seconds(child.pid), cpu_seconds(child.pid)
        assert 0.5 < main_s < all_s, (main_s, all_s)  # the main thread spun ~1 s, the other thread ~1 s more
        assert all_s - main_s > 0.5, (main_s, all_s)
    finally:
        child.kill()
        child.wait()
    assert main_thread_cpu_seconds(child.pid) == 0.0  # gone: 0, not an error
