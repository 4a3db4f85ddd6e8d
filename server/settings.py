"""Every limit and knob, read from CONVSCOPE_* environment variables into one typed object.

Each setting is declared once below: its type, default, range and meaning. Start-up
refuses a bad value with one line naming the variable, the value and what is allowed;
the README's settings table is printed from these declarations
(`python -m convscope.settings`). Created by a cached getter, never at import time;
tests pass their own `Settings(...)` to `create_app`.
"""
from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

from .core.limits import Limits
from .security import check_cors_origins, check_frame_ancestors

_PREFIX = "CONVSCOPE_"
_KiB, _MiB, _GiB = 1024, 1024**2, 1024**3
_ENVIRON: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("environ", default=None)


class SettingsError(ValueError):
    """A CONVSCOPE_* value out of its type or range: one line naming the variable, the value and what is allowed."""


def _count(default: int, lo: int, meaning: str, hi: int | None = None, unit: str = "") -> Any:
    return Field(default, ge=lo, le=hi, description=meaning, json_schema_extra={"unit": unit} if unit else None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, frozen=True, extra="forbid", validate_default=True)

    device: str = Field("auto", description="`cuda` when torch sees a GPU, else `cpu`; or name one (`cuda:1`)")
    torch_threads: int = _count(0, 0, "torch intra-op threads per job (0 = cores ÷ `MAX_CONCURRENCY`, at least 1: "
                                   "more threads than cores make OpenMP spin-wait, several times slower on 2 cores)",
                                1024)
    max_body_bytes: int = _count(16 * _MiB, 1, "largest JSON body (413 past it)", unit="bytes")
    max_upload_bytes: int = _count(20 * _MiB, 1, "largest image upload", unit="bytes")
    max_input_elements: int = _count(1_000_000, 1, "largest tensor in a request")
    max_output_elements: int = _count(4_000_000, 1, "largest output (413 past it, before computing)")
    max_toeplitz_entries: int = _count(250_000, 1, "largest Toeplitz matrix")
    max_trace_terms: int = _count(400_000, 1, "largest trace")
    max_im2col_elements: int = _count(2_000_000, 1, "largest im2col matrix")
    image_max_side: int = _count(1024, 8, "uploads are resized to this longest side", 16384)
    image_max_pixels: int = _count(50_000_000, 1, "decoded-pixel cap (decompression bombs)")
    image_cache_bytes: int = _count(512 * _MiB, 1, "in-memory image cache", unit="bytes")
    max_model_bytes: int = _count(64 * _MiB, 1, "largest ONNX upload", unit="bytes")
    model_cache_bytes: int = _count(_GiB, 1, "in-memory store of uploaded models' weights", unit="bytes")
    max_weights_bytes: int = _count(576 * _MiB, 1, "largest safetensors upload (VGG-16 in float32 fits)",
                                    unit="bytes")
    weights_cache_bytes: int = _count(_GiB, 1, "in-memory store of uploaded catalogue weights (float32)",
                                      unit="bytes")
    weights_dir: str = Field("", description="folder of trained catalogue weights, `<id>.safetensors` "
                                             "(torchvision's keys); empty: none")
    max_concurrency: int = _count(2, 1, "torch jobs at once", 256)
    max_queue: int = _count(256, 0, "waiting jobs before 503 (each holds its parsed request while it waits)", 1_000_000)
    queue_timeout_s: float = Field(20.0, ge=0.001, le=3600, description="seconds a job may wait before 503")
    frame_ancestors: str = Field("'self'", description="who may embed the pages (CSP `frame-ancestors`), "
                                                       "e.g. `'self' https://course.example.edu`")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="comma-separated origins allowed to call the API from a browser; empty: CORS off")
    keep_alive_s: int = _count(15, 1, "seconds an idle connection stays open (`python -m convscope`); behind a "
                                  "reverse proxy, set it above the proxy's idle timeout", 3600)
    max_connections: int = _count(2048, 1, "open connections per worker, idle ones included, before uvicorn refuses "
                                     "with a bare 503; keep it below `ulimit -n`", 1_000_000)
    graceful_shutdown_s: int = _count(8, 0, "seconds a stopping server lets in-flight requests finish "
                                         "(`docker stop` kills after 10)", 3600)
    http: Literal["auto", "h11"] = Field("auto", description="HTTP parser: `auto` (httptools when installed: fast, "
                                                             "no header-size cap) or `h11` (headers capped at 16 KiB, "
                                                             "for a server that faces the internet without a proxy)")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise SettingsError(_sentence(err)) from None

    # Both go into response headers: a value that could inject a directive is refused at start-up.
    @field_validator("frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        return check_frame_ancestors(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [o.strip() for o in value.split(",") if o.strip()]
        return check_cors_origins(value)  # type: ignore[arg-type]

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any, env_settings: Any,
                                   dotenv_settings: Any, file_secret_settings: Any) -> tuple[Any, ...]:
        environ = _ENVIRON.get()
        return (init_settings, env_settings if environ is None else _MappingSource(settings_cls, environ))

    @property
    def limits(self) -> Limits:
        return Limits(self.max_input_elements, self.max_output_elements, self.max_toeplitz_entries,
                      self.max_trace_terms, self.max_im2col_elements)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings of the process environment, or of `environ` alone."""
        token = _ENVIRON.set(os.environ if environ is None else environ)
        try:
            return cls()
        finally:
            _ENVIRON.reset(token)


class _MappingSource(EnvSettingsSource):
    """The environment source reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._mapping = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._mapping.items()}


def _bounds(name: str) -> tuple[float | None, float | None]:
    lo = hi = None
    for rule in Settings.model_fields[name].metadata:
        if isinstance(rule, annotated_types.Ge):
            lo = rule.ge  # type: ignore[assignment]
        elif isinstance(rule, annotated_types.Le):
            hi = rule.le  # type: ignore[assignment]
    return lo, hi


def _number(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def allowed(name: str) -> str:
    """What a setting accepts, in words: 'an integer from 1 to 256', 'one of auto, h11', 'text'."""
    field = Settings.model_fields[name]
    if field.annotation in (int, float):
        what = "an integer" if field.annotation is int else "a number"
        lo, hi = _bounds(name)
        return f"{what} from {_number(lo)} to {_number(hi)}" if hi is not None else f"{what} of at least {_number(lo)}"
    if getattr(field.annotation, "__origin__", None) is Literal:
        return "one of " + ", ".join(field.annotation.__args__)  # type: ignore[union-attr]
    return "text"


def _sentence(err: ValidationError) -> str:
    first = err.errors()[0]
    if first["type"] == "extra_forbidden":
        return f"{first['loc'][0]!r} is not a setting; the settings are {', '.join(Settings.model_fields)}."
    name = str(first["loc"][0])
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError) and str(cause).startswith(_PREFIX):
        return str(cause)  # the header checks speak for themselves
    value, kind = first["input"], Settings.model_fields[name].annotation
    if isinstance(value, str) and kind in (int, float):
        try:
            value = kind(value.strip())
        except ValueError:
            pass
    return f"{_PREFIX}{name.upper()}={value!r}: must be {allowed(name)}."


def _default(name: str) -> str:
    value = Settings.model_fields[name].default
    extra = Settings.model_fields[name].json_schema_extra or {}
    if value in ("", ()):
        return "(none)"
    if isinstance(value, str):
        return f"`{value}`"
    if extra.get("unit") == "bytes":  # type: ignore[union-attr]
        for size, unit in ((_GiB, "GiB"), (_MiB, "MiB"), (_KiB, "KiB")):
            if value % size == 0:
                return f"{value // size} {unit}"
    return _number(value)


def table_rows() -> Iterator[str]:
    """The README's settings table, one row per setting, from the declarations above."""
    yield "| variable | default | allowed | meaning |"
    yield "|---|---|---|---|"
    for name, field in Settings.model_fields.items():
        yield f"| `{_PREFIX}{name.upper()}` | {_default(name)} | {allowed(name)} | {field.description} |"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def resolve_device(requested: str) -> str:
    """The torch device name this process computes on. On a GPU, TF32 is turned off: float32 maps are
    float32 (TF32 keeps 10 mantissa bits, so GPU maps would differ from the CPU's in the fourth digit)."""
    import torch

    device = ("cuda:0" if torch.cuda.is_available() else "cpu") if requested == "auto" else requested
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"CONVSCOPE_DEVICE={requested} but torch sees no GPU")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return "cuda:0" if device == "cuda" else device


if __name__ == "__main__":
    print("\n".join(table_rows()))
