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


def closest(key: object, names: Collection[str]) -> str | None:
    """The one of `names` closest to `key` (difflib's ratio, at least 0.6), or None where none is close."""
    close = difflib.get_close_matches(str(key), list(names), n=1)
    return close[0] if close else None


def did_you_mean(key: object, names: Collection[str], *, sentence: bool = False) -> str:
    """ "did you mean 'x'?" for the name closest to `key`, or "" where none is close; `sentence=True` gives
    " Did you mean 'x'?", to follow a full stop."""
    name = closest(key, names)
    if name is None:
        return ""
    return f" Did you mean {name!r}?" if sentence else f"did you mean {name!r}?"


def unknown_parameter(subject: str, key: str, takes: Collection[str], loc: list[str | int],
                      listed: str = "it") -> InvalidRequest:
    """The one sentence for a key that `subject` does not take: the closest name it does take, else all of them
    ("Layer 2 (conv2d) has no parameter 'strides'; did you mean 'stride'?")."""
    names = sorted(set(takes) - {"op"})
    hint = did_you_mean(key, names) or f"{listed} takes {', '.join(names)}."
    return InvalidRequest(f"{subject} has no parameter {key!r}; {hint}", loc)
