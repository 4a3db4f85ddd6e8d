"""python -m convscope [serve] --host H --port P [--workers N]: the uvicorn options behind `convscope serve`.

Every uvicorn option that decides how the server behaves under a full lecture hall is set here on
purpose; the ones a deployer may need to change come from Settings (CONVSCOPE_* variables).
"""
from __future__ import annotations

import logging
import sys
from typing import Any

import uvicorn

from .settings import Settings

log = logging.getLogger("convscope")

# The kernel caps the accept queue at net.core.somaxconn (4096 on current Linux); 2048 holds a whole
# hall connecting in the same second while workers are busy.
BACKLOG = 2048
# h11 only (httptools has no such limit): the largest request line plus headers it buffers, 16 KiB as nginx's default.
H11_MAX_HEADER_BYTES = 16 * 1024
# A worker whose event loop does not answer the supervisor's ping in this long is killed and replaced;
# generous, as a worker on a saturated 2-core machine may be slow to answer without being stuck.
WORKER_HEALTHCHECK_S = 20


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of uvicorn.run besides the app, host, port, workers and log level."""
    return {
        "http": settings.http,
        "timeout_keep_alive": settings.keep_alive_s,
        # A bound on sockets and their buffers; the compute gate sheds heavy work long before this, in the envelope.
        "limit_concurrency": settings.max_connections,
        "backlog": BACKLOG,
        "timeout_graceful_shutdown": settings.graceful_shutdown_s,
        "h11_max_incomplete_event_size": H11_MAX_HEADER_BYTES,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
        # No route speaks WebSocket (the pipeline streams over plain HTTP): upgrades are refused, not parsed.
        "ws": "none",
        # No periodic worker recycling: nothing here leaks, and a restart would drop that worker's image cache.
        "limit_max_requests": None,
    }


def _raise_open_files_limit(wanted: int) -> None:
    """Lift the soft limit on open files towards the hard one, so max_connections sockets can be accepted."""
    if sys.platform == "win32":
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning("open-files limit %d is below CONVSCOPE_MAX_CONNECTIONS + 64 = %d", target, wanted)


def serve(host: str, port: int, workers: int, log_level: str) -> None:
    settings = Settings.from_env()
    _raise_open_files_limit(settings.max_connections + 64)  # + files, pipes and the listening socket
    uvicorn.run("convscope.app:app", host=host, port=port, workers=workers, log_level=log_level,
                **uvicorn_options(settings))


if __name__ == "__main__":
    from .cli import main

    main(["serve", *sys.argv[1:]] if sys.argv[1:2] not in (["serve"], ["grade"]) else sys.argv[1:])
