"""Reading application/vnd.convscope.frames (server/frames.py) in tests and benchmarks."""
from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from typing import Any


def read_frames(chunks: Iterable[bytes]) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(header, payload) per frame, from the response body's chunks as they arrive."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) < 4 + n:
                break
            header = json.loads(bytes(buf[4:4 + n]))
            end = 4 + n + header["bytes"]
            if len(buf) < end:
                break
            yield header, bytes(buf[4 + n:end])
            del buf[:end]
    if buf:
        raise ValueError(f"{len(buf)} bytes left after the last whole frame")


def map_bytes(header: dict[str, Any], payload: bytes) -> list[bytes]:
    """Each map's data, cut out of a "maps" frame's payload."""
    return [payload[m["offset"]:m["offset"] + m["length"]] for m in header["maps"]]
