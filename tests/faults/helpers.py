"""What the fault tests share: small real images, multipart bodies built by hand, a raw HTTP client."""
from __future__ import annotations

import io
import socket

import numpy as np
from PIL import Image

BOUNDARY = "convscopeFaultBoundary"
TINY_CONV = {"input": [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]], "weight": [[[[1.0, 0.0], [0.0, -1.0]]]]}


def png(seed: int, side: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def multipart(data: bytes, field: str = "file", filename: str = "a.png") -> bytes:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def raw_send(port: int, head: bytes, body: bytes = b"", *, linger_s: float = 0.2) -> None:
    """Open a TCP connection, send `head` + `body`, wait a moment, and close without reading the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        s.settimeout(linger_s)
        try:
            s.recv(1)  # give the server a moment with the half request before the connection goes
        except TimeoutError:
            pass
