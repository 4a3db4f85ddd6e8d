"""The server sets glibc's allocator thresholds (allocator.py) where glibc is the allocator."""
from __future__ import annotations

import platform
import sys

import pytest

from convscope import allocator
from convscope.app import create_app
from convscope.settings import Settings


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's thresholds exist on glibc only")
def test_creating_the_app_sets_the_thresholds_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_done", False)
    create_app(Settings(device="cpu"))
    assert allocator._done is True
    assert allocator.tune() is True
