"""`convscope.Client(url)`: the same `exercise` and `grade` calls against a shared convscope server."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .core.exceptions import ConvscopeError


class Client:
    """Calls a convscope server's exercise API; a refusal raises ConvscopeError with the server's sentence."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.url}/api/v1{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:  # noqa: S310 (the caller's URL)
                return json.loads(reply.read())
        except urllib.error.HTTPError as err:
            try:
                envelope = json.loads(err.read())
            except ValueError:
                raise ConvscopeError(f"The server answered {err.code} without convscope's error envelope.") from None
            error = ConvscopeError(envelope.get("error", str(err)), envelope.get("errors", [{}])[0].get("loc"))
            error.status = err.code
            raise error from None

    def exercise(self, kind: str, seed: int = 0, difficulty: int = 1) -> dict[str, Any]:
        return self._post("/exercises", {"kind": kind, "seed": seed, "difficulty": difficulty})

    def grade(self, kind: str, seed: int, difficulty: int, answer: Any, reveal: bool = False) -> dict[str, Any]:
        return self._post("/exercises/grade", {"kind": kind, "seed": seed, "difficulty": difficulty,
                                               "answer": answer, "reveal": reveal})
