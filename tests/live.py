"""Real `python -m convscope` processes on free loopback ports, for tests that need a socket or a process tree.

Each server's output goes to a file the test can read (`log()`), and every process it started,
workers included, is stopped when the `with` block ends, however the test ended.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        """Pids of the processes whose parent is the server (its workers, with --workers N)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                        found.append(int(entry.name))
        return sorted(found)

    def workers(self) -> list[int]:
        """The worker processes of `--workers N` (uvicorn spawns them; the resource tracker is not one)."""
        found = []
        for pid in self.children():
            with contextlib.suppress(OSError):
                if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
        return found


def wait_healthy(url: str, timeout_s: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {timeout_s:g} s")


def _stop(proc: subprocess.Popen[bytes], pids: list[int]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    for pid in pids:  # workers the supervisor may have left behind had it been killed
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CONVSCOPE_* setting (so tests are hermetic), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSCOPE_")}
    return env | {"CONVSCOPE_DEVICE": "cpu", "PYTHONUNBUFFERED": "1"} | extra


@contextlib.contextmanager
def live_server(env: dict[str, str] | None = None, workers: int = 1) -> Iterator[LiveServer]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="convscope-live-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "convscope", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", str(workers), "--log-level", "warning"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=server_env(**(env or {})))
        server = LiveServer(f"http://127.0.0.1:{port}", port, proc, log_path)
        seen: set[int] = set()
        try:
            wait_healthy(server.url, proc=proc)
            seen.update(server.children())
            yield server
        finally:
            seen.update(server.children())
            _stop(proc, sorted(seen))
