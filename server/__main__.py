"""python -m server --host H --port P"""
from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description="Serve convscope.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (each holds its own image cache)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    uvicorn.run("server.app:app", host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                timeout_keep_alive=5, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
