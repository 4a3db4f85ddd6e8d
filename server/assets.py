"""Static assets with content-hashed URLs; Plotly.js from the installed plotly package (no CDN); static/ from memory.

Hashed URLs are cached for a year; the bytes are gzipped once, at first use.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
import stat
from dataclasses import dataclass
from email.utils import formatdate
from functools import cached_property
from pathlib import Path

import plotly
from markupsafe import Markup, escape
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from .bundle import Bundler, resolve
from .compression import COMPRESS_LEVEL

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
        self.bundler = Bundler(static_dir)
        self._pages: dict[str, Markup] = {}

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
                    dep = resolve(current, spec)
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

    def page_script(self, name: str) -> Markup:
        """The page's entry module and its whole graph as one script (bundle.py), at `<name>.bundle.js` beside the
        entry; where the graph cannot be bundled, module_script(name)."""
        if name not in self._pages:  # worked out once: every page render writes it
            body = self.bundler.bundle(name)
            if body is None:
                self._pages[name] = self.module_script(name)
            else:
                digest = hashlib.sha256(body).hexdigest()[:12]
                self._pages[name] = Markup(f'<script type="module" src="/static/{escape(bundle_name(name))}'
                                           f'?v={digest}"></script>')
        return self._pages[name]


BUNDLE_SUFFIX = ".bundle.js"


def bundle_name(entry: str) -> str:
    """js/views/conv.js → js/views/conv.bundle.js: where an entry module's bundle is served."""
    return entry[: -len(".js")] + BUNDLE_SUFFIX


@dataclass(frozen=True)
class _Held:
    """One static file as read: its bytes, gzipped once when worth it, and the validators the browser sends back."""

    body: bytes
    mtime_ns: int
    size: int
    media_type: str

    @cached_property
    def gzipped(self) -> bytes | None:
        text = self.media_type.startswith("text/") or self.media_type in _TEXTUAL
        return gzip.compress(self.body, compresslevel=COMPRESS_LEVEL) if text and self.size >= 1024 else None

    @cached_property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.body, usedforsecurity=False).hexdigest()}"'

    @cached_property
    def last_modified(self) -> str:
        return formatdate(self.mtime_ns / 1e9, usegmt=True)


_TEXTUAL = {"application/javascript", "application/json", "image/svg+xml"}


class MemoryStatic(StaticFiles):
    """static/ served from memory: each file is read and gzipped once (again when it changes on disk), not opened,
    read and compressed on every request: a view's first drawing waits on a dozen or more modules, each one a
    request. Same answers as StaticFiles otherwise: 404 and 405 in the app's envelope, ETag and Last-Modified, 304."""

    def __init__(self, directory: Path = STATIC_DIR, bundler: Bundler | None = None) -> None:
        super().__init__(directory=directory)
        self.root = os.path.realpath(directory)
        self.bundler = bundler
        self._held: dict[str, _Held] = {}

    def _file(self, path: str) -> _Held | None:
        full = os.path.realpath(os.path.join(self.root, path))
        if os.path.commonpath([full, self.root]) != self.root:
            return None
        try:
            st = os.stat(full)
        except OSError:
            return self._bundle(full)
        if not stat.S_ISREG(st.st_mode):
            return None
        held = self._held.get(full)
        if held is None or held.mtime_ns != st.st_mtime_ns or held.size != st.st_size:
            with open(full, "rb") as f:
                body = f.read()
            held = _Held(body, st.st_mtime_ns, len(body), mimetypes.guess_type(full)[0] or "text/plain")
            self._held[full] = held
        return held

    def _bundle(self, full: str) -> _Held | None:
        """<entry>.bundle.js: the bundle of <entry>.js (assets.page_script), when it is a module that bundles."""
        if self.bundler is None or not full.endswith(BUNDLE_SUFFIX):
            return None
        held = self._held.get(full)
        if held is None:
            entry = os.path.relpath(full[: -len(BUNDLE_SUFFIX)] + ".js", self.root).replace(os.sep, "/")
            if not os.path.isfile(os.path.join(self.root, entry)):
                return None
            body = self.bundler.bundle(entry)
            if body is None:
                return None
            held = _Held(body, 0, len(body), mimetypes.guess_type(full)[0] or "text/javascript")
            self._held[full] = held
        return held

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405)
        held = self._file(path)
        if held is None:
            raise HTTPException(status_code=404)
        asked = Headers(scope=scope)
        headers = {"ETag": held.etag, "Last-Modified": held.last_modified}
        if held.etag in asked.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if held.gzipped is None:
            return Response(held.body, media_type=held.media_type, headers=headers)
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in asked.get("accept-encoding", ""):
            return Response(held.gzipped, media_type=held.media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(held.body, media_type=held.media_type, headers=headers)
