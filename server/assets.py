"""Static assets with content-hashed URLs; Plotly.js from the installed plotly package (no CDN).

Hashed URLs are cached for a year; the bytes are gzipped once, at first use.
"""
from __future__ import annotations

import gzip
import hashlib
import posixpath
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import plotly
from markupsafe import Markup, escape

# A module's static imports ("import … from './x.js'", "import './x.js'", "export … from './x.js'"); dynamic
# import() is left out: it is fetched on demand.
_IMPORT = re.compile(r'^\s*(?:import|export)\b[^;"\']*?(?:\bfrom\s*)?["\'](\.{1,2}/[^"\']+\.js)["\']', re.M)


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
        self._imports: dict[str, tuple[str, ...]] = {}

    def plotly_url(self) -> str:
        return f"/vendor/plotly-{plotly.__version__}.{self.plotly.digest}.min.js"

    def url(self, name: str) -> str:
        if name not in self._hashes:
            data = (self.static_dir / name).read_bytes()
            self._hashes[name] = hashlib.sha256(data).hexdigest()[:12]
        return f"/static/{name}?v={self._hashes[name]}"

    def imports(self, name: str) -> tuple[str, ...]:
        """Every module that `name` (a path under static/) imports statically, directly or not, in first-seen order."""
        if name not in self._imports:
            seen: dict[str, None] = {}
            todo = [name]
            while todo:
                current = todo.pop(0)
                text = (self.static_dir / current).read_text(encoding="utf-8")
                for spec in _IMPORT.findall(text):
                    dep = posixpath.normpath(posixpath.join(posixpath.dirname(current), spec))
                    if dep != name and dep not in seen:
                        seen[dep] = None
                        todo.append(dep)
            self._imports[name] = tuple(seen)
        return self._imports[name]

    def module_script(self, name: str) -> Markup:
        """The page's entry module, preceded by a modulepreload of each module it imports, so the browser fetches the
        whole graph at once instead of one level of imports after another (the URLs are the ones the imports name)."""
        links = "".join(f'<link rel="modulepreload" href="/static/{escape(dep)}">' for dep in self.imports(name))
        return Markup(f'{links}<script type="module" src="{escape(self.url(name))}"></script>')
