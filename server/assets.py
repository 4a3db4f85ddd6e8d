"""Static assets with content-hashed URLs; Plotly.js from the installed plotly package (no CDN).

Hashed URLs are cached for a year; the bytes are gzipped once, at first use.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import plotly



def _package_data(name: str) -> Path:
    """templates/ or static/: inside the installed package (a wheel), else beside server/ (a checkout)."""
    here = Path(__file__).resolve().parent
    inside = here / name
    return inside if inside.is_dir() else here.parent / name


STATIC_DIR = _package_data("static")
TEMPLATES_DIR = _package_data("templates")
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


@dataclass(frozen=True)
class Asset:
    path: Path
    media_type: str

    @cached_property
    def body(self) -> bytes:
        return self.path.read_bytes()

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6)

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:12]


class AssetTable:
    """Maps a static file's name to its hashed URL; computed lazily and kept."""

    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self.static_dir = static_dir
        self.plotly = Asset(PLOTLY_JS, "text/javascript")
        self._hashes: dict[str, str] = {}

    def plotly_url(self) -> str:
        return f"/vendor/plotly-{plotly.__version__}.{self.plotly.digest}.min.js"

    def url(self, name: str) -> str:
        if name not in self._hashes:
            data = (self.static_dir / name).read_bytes()
            self._hashes[name] = hashlib.sha256(data).hexdigest()[:12]
        return f"/static/{name}?v={self._hashes[name]}"
