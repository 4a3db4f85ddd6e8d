"""Errors raised by the computation core; server/errors.py maps them to the HTTP envelope."""
from __future__ import annotations


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
