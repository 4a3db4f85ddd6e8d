"""glibc's allocator told to keep feature-map-sized blocks for reuse instead of mapping fresh pages for each.

torch's CPU tensors come from malloc. A block above glibc's mmap threshold (128 KiB at start, raised only
as such blocks are freed) is mapped on allocation and unmapped on free, so every 16 MiB map a pipeline
makes costs its 4,096 page faults again: a 512² conv 3→16, relu and pool then computes in 20 ms instead of
7 ms. Blocks up to MMAP_THRESHOLD come from the heap, and up to TRIM_THRESHOLD of free memory at a heap's
top is kept for the next request rather than handed back at once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger("convscope")

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 64 * 1024 * 1024
_done = False


def tune() -> bool:
    """Set both thresholds once per process, on Linux with glibc; True when they are set."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl's mallopt does nothing)
        _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False
    if not _done:
        log.warning("glibc refused the allocator thresholds; feature maps are mapped afresh each time")
    return _done
