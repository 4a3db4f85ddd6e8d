"""Every limit and knob, read from CONVSCOPE_* environment variables into one object.

Created by a cached getter, never at import time; tests pass their own
`Settings(...)` to `create_app`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache

from .core.limits import Limits
from .security import check_cors_origins, check_frame_ancestors

_PREFIX = "CONVSCOPE_"
_BIG = 2**50
#: The allowed range of every number, checked at start-up (and for Settings made in code).
RANGES: dict[str, tuple[float, float]] = {
    "torch_threads": (0, 1024), "max_body_bytes": (1, _BIG), "max_upload_bytes": (1, _BIG),
    "max_input_elements": (1, _BIG), "max_output_elements": (1, _BIG), "max_toeplitz_entries": (1, _BIG),
    "max_trace_terms": (1, _BIG), "max_im2col_elements": (1, _BIG), "image_max_side": (8, 16384),
    "image_max_pixels": (1, _BIG), "image_cache_bytes": (1, _BIG), "max_model_bytes": (1, _BIG),
    "model_cache_bytes": (1, _BIG), "max_concurrency": (1, 256), "max_queue": (0, 1_000_000),
    "queue_timeout_s": (0.001, 3600), "keep_alive_s": (1, 3600), "max_connections": (1, 1_000_000),
    "graceful_shutdown_s": (0, 3600),
}
CHOICES: dict[str, tuple[str, ...]] = {"http": ("auto", "h11")}


class SettingsError(ValueError):
    """A CONVSCOPE_* value out of its type or range: one line naming the variable, the value and what is allowed."""


def _allowed(name: str, kind: type) -> str:
    lo, hi = (f"{int(v):,}" if float(v).is_integer() else f"{v:g}" for v in RANGES[name])
    what = "an integer" if kind is int else "a number"
    return f"{what} from {lo} to {hi}" if RANGES[name][1] < _BIG else f"{what} of at least {lo}"


@dataclass(frozen=True)
class Settings:
    #: "auto" picks cuda when torch sees a GPU, else cpu; or name one ("cpu", "cuda", "cuda:1").
    device: str = "auto"
    #: torch intra-op threads, set once at start-up (0 = cores ÷ max_concurrency, at least 1).
    torch_threads: int = 0
    #: Largest JSON body accepted, in bytes (413 past it).
    max_body_bytes: int = 16 * 1024 * 1024
    #: Largest image upload, in bytes.
    max_upload_bytes: int = 20 * 1024 * 1024
    #: Tensor caps, checked on shapes before any allocation.
    max_input_elements: int = 1_000_000
    max_output_elements: int = 4_000_000
    max_toeplitz_entries: int = 250_000
    max_trace_terms: int = 400_000
    max_im2col_elements: int = 2_000_000
    #: Uploaded images: longest side after resizing, decoded-pixel cap, in-memory cache size.
    image_max_side: int = 1024
    image_max_pixels: int = 50_000_000
    image_cache_bytes: int = 512 * 1024 * 1024
    #: Uploaded models (ONNX): the largest file, in bytes, and the in-memory store of their weights.
    max_model_bytes: int = 64 * 1024 * 1024
    model_cache_bytes: int = 1024 * 1024 * 1024
    #: A folder of trained catalogue weights, `<model id>.safetensors` (torchvision's keys); empty: none.
    weights_dir: str = ""
    #: Torch jobs that run at once, and how many may wait before the server answers 503.
    max_concurrency: int = 2
    max_queue: int = 256
    #: Seconds a queued job may wait for its turn before a 503 with Retry-After.
    queue_timeout_s: float = 20.0
    #: Who may embed the pages in a frame (CSP frame-ancestors), e.g. "'self' https://course.example.edu".
    frame_ancestors: str = "'self'"
    #: Origins allowed to call the API from a browser (CORS); empty = CORS off.
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    #: `python -m convscope` (uvicorn): seconds an idle connection stays open; above a reverse proxy's idle timeout.
    keep_alive_s: int = 15
    #: Open connections per worker (idle keep-alive included) before uvicorn answers a bare 503; below `ulimit -n`.
    max_connections: int = 2048
    #: Seconds a stopping server lets in-flight requests finish (under `docker stop`'s 10 s before SIGKILL).
    graceful_shutdown_s: int = 8
    #: HTTP parser: "auto" (httptools when installed, fast, no header cap) or "h11" (caps headers at 16 KiB).
    http: str = "auto"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in RANGES:
                kind = int if isinstance(f.default, int) else float
                lo, hi = RANGES[f.name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi \
                        or (kind is int and not isinstance(value, int)):
                    raise SettingsError(f"{_PREFIX}{f.name.upper()}={value!r}: must be {_allowed(f.name, kind)}.")
            if f.name in CHOICES and value not in CHOICES[f.name]:
                raise SettingsError(f"{_PREFIX}{f.name.upper()}={value!r}: must be one of "
                                    f"{', '.join(CHOICES[f.name])}.")
        # Both go into response headers: a value that could inject a directive is refused at start-up.
        object.__setattr__(self, "frame_ancestors", check_frame_ancestors(self.frame_ancestors))
        object.__setattr__(self, "cors_origins", check_cors_origins(self.cors_origins))

    @property
    def limits(self) -> Limits:
        return Limits(self.max_input_elements, self.max_output_elements, self.max_toeplitz_entries,
                      self.max_trace_terms, self.max_im2col_elements)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(_PREFIX + f.name.upper())
            if raw is None:
                continue
            default = f.default if f.default is not f.default_factory else ()  # type: ignore[comparison-overlap]
            if f.name == "cors_origins":
                values[f.name] = tuple(o.strip() for o in raw.split(",") if o.strip())
            elif isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, (int, float)):
                kind = type(default)
                try:
                    values[f.name] = kind(raw.strip())
                except ValueError:
                    raise SettingsError(f"{_PREFIX}{f.name.upper()}={raw!r}: must be "
                                        f"{_allowed(f.name, kind)}.") from None
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def resolve_device(requested: str) -> str:
    """The torch device name this process computes on."""
    import torch

    if requested == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"CONVSCOPE_DEVICE={requested} but torch sees no GPU")
    return "cuda:0" if requested == "cuda" else requested
