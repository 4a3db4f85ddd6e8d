"""Resident memory and CPU time of a process tree, read from /proc, and a sampler thread that keeps the peak.

The server is a process (one worker) or a supervisor with worker processes (`--workers N`), so the
figure that matters is the sum of VmRSS over the process and all its descendants.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")


def _ppid(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> list[int]:
    """`root` and every process below it (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = _ppid(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def rss_bytes(pid: int) -> int:
    """VmRSS of one process in bytes (0 when it is gone)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    return sum(rss_bytes(pid) for pid in descendants(root))


def _stat_cpu_seconds(stat: Path) -> float:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, all its threads (0 when it is gone)."""
    return _stat_cpu_seconds(PROC / str(pid) / "stat")


def main_thread_cpu_seconds(pid: int) -> float:
    """The same for the process's first thread alone (the server's event loop), 0 when it is gone."""
    return _stat_cpu_seconds(PROC / str(pid) / "task" / str(pid) / "stat")


def tree_cpu_seconds(root: int) -> float:
    return sum(cpu_seconds(pid) for pid in descendants(root))


@dataclass
class RssSampler:
    """Samples the tree's RSS every `interval_s` in a thread; `peak` and `samples` (t, bytes) after."""

    root: int
    interval_s: float = 0.1
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def peak(self) -> int:
        return max((b for _, b in self.samples), default=0)

    def peak_between(self, t0: float, t1: float) -> int:
        return max((b for t, b in self.samples if t0 <= t <= t1), default=0)

    def last(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def _run(self) -> None:
        tree: list[int] = []
        for n in itertools.count():
            if self._stop.is_set():
                return
            if n % 10 == 0:  # a full /proc scan costs a few ms; workers come and go rarely
                tree = descendants(self.root)
            self.samples.append((time.monotonic(), sum(rss_bytes(pid) for pid in tree)))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "RssSampler":
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
