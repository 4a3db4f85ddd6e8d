"""Errors raised by the computation core; server/errors.py maps them to the HTTP envelope."""
from __future__ import annotations

import difflib
from collections.abc import Collection


class ConvscopeError(Exception):
    """A request the core refuses. `message` is one teaching sentence; `loc` points at the field."""

    status: int = 422

    def __init__(self, message: str, loc: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = list(loc or [])


class InvalidRequest(ConvscopeError):
    status = 422


class TooLarge(ConvscopeError):
    status = 413


class NotFound(ConvscopeError):
    status = 404


class Unsupported(ConvscopeError):
    status = 415


def unknown_parameter(subject: str, key: str, takes: Collection[str], loc: list[str | int],
                      listed: str = "it") -> InvalidRequest:
    """The one sentence for a key that `subject` does not take: the closest name it does take, else all of them
    ("Layer 2 (conv2d) has no parameter 'strides'; did you mean 'stride'?")."""
    names = sorted(set(takes) - {"op"})
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"{listed} takes {', '.join(names)}."
    return InvalidRequest(f"{subject} has no parameter {key!r}; {hint}", loc)
