"""A page's module graph as one ES module, so that its first drawing waits on one script request, not one per module.

Each page's entry module imports a dozen to two dozen small modules. Even with every one of them named up front
(modulepreload), each is a request the browser's processes pass around, over at most six connections, on the same
cores as the page: on 2 cores that is most of what separates a view's first drawing from the home page's. So the
server writes the graph as one module, built once from static/ as it is (no build step, no tool to install):

- every imported module becomes a function scope, evaluated in import order (depth first, each once, as ES modules
  are), that returns its exports; `import { a, b as c } from "./x.js"` becomes `const { a, b: c } = <x's exports>`,
  `import * as x from` the exports object itself, `import "./x.js"` only the order;
- the entry module's own code stays at the top level of the bundle (so a top-level await there still works);
- a relative `import("./x.js")` is written as an absolute URL, so a module fetched on demand still loads (as its
  own module graph, as it would have anyway).

What the bundle does not translate it does not bundle: a cycle, `export default`, `export { … }`, re-exports,
an import of a name it did not read as exported (the second name of `export const a = 1, b = 2`, say), or any
other import form. `bundle()` then returns None and the
page loads its modules one by one, each preloaded (assets.AssetTable.module_script). Imported modules may not use a
top-level await (only the entry may): such a module fails to parse inside its function scope, which every page's
browser test would show.
"""
from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

log = logging.getLogger("convscope")

_NAME = r"[A-Za-z_$][\w$]*"
# import { a, b as c } from "./x.js";   import * as x from "./x.js";   import "./x.js";
_IMPORT = re.compile(r'^[ \t]*import\s*(?:\{([^}]*)\}\s*from\s*|\*\s*as\s+(' + _NAME + r')\s+from\s*)?'
                     r'["\'](\.{1,2}/[^"\']+\.js)["\'][ \t]*;?[ \t]*(?://[^\n]*)?$', re.M)
_ANY_IMPORT = re.compile(r"^[ \t]*import\b(?!\s*\()", re.M)
# export function f / export async function f / export class C / export const x = …
_EXPORT = re.compile(r"^export\s+((?:async\s+)?function\s*\*?\s*|class\s+|(?:const|let|var)\s+)(" + _NAME + r")\b",
                     re.M)
_ANY_EXPORT = re.compile(r"^[ \t]*export\b", re.M)
_DYNAMIC = re.compile(r'\bimport\(\s*(["\'])(\.{1,2}/[^"\']+\.js)\1\s*\)')


class NotBundled(Exception):
    """A module uses a form the bundle does not translate (the page then loads its modules one by one)."""


def resolve(current: str, spec: str) -> str:
    """A relative import's module, as a path under static/ (`current` imports `spec`)."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(current), spec))


def _bindings(names: str, where: str, exported: list[str]) -> str:
    """`a, b as c` → `a, b: c` (the destructuring of an exports object), each name one the module exports."""
    out = []
    for part in (p.strip() for p in names.split(",")):
        if not part:
            continue
        m = re.fullmatch(rf"({_NAME})(?:\s+as\s+({_NAME}))?", part)
        if m is None:
            raise NotBundled(f"{where}: cannot read the import of {part!r}")
        if m.group(1) not in exported:  # an export this reading missed: better unbundled than undefined
            raise NotBundled(f"{where}: imports {m.group(1)!r}, which the bundle did not find exported")
        out.append(m.group(1) if m.group(2) is None else f"{m.group(1)}: {m.group(2)}")
    return ", ".join(out)


class Bundler:
    """Bundles of entry modules under `static_dir`; each built once and kept."""

    def __init__(self, static_dir: Path) -> None:
        self.static_dir = static_dir
        self._bundles: dict[str, bytes | None] = {}

    def bundle(self, entry: str) -> bytes | None:
        """The entry's graph as one module (UTF-8), or None when it uses a form that cannot be bundled."""
        if entry not in self._bundles:
            try:
                self._bundles[entry] = self._build(entry).encode("utf-8")
            except NotBundled as exc:
                log.warning("%s is served as separate modules: %s", entry, exc)
                self._bundles[entry] = None
        return self._bundles[entry]

    def _build(self, entry: str) -> str:
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str) -> None:  # depth first, in import order, each module once: as ES modules evaluate
            if state.get(name) == "done":
                return
            if state.get(name) == "open":
                raise NotBundled(f"{name}: an import cycle")
            state[name] = "open"
            for m in _IMPORT.finditer(self._source(name)):
                visit(resolve(name, m.group(3)))
            state[name] = "done"
            order.append(name)

        visit(entry)
        index = {name: i for i, name in enumerate(order)}
        exported: dict[str, list[str]] = {}
        parts = [f"// {entry} and the modules it imports, as one module (server/bundle.py)\n"]
        for name in order:  # a module's imports come before it: their exports are known
            body, exports = self._translate(name, index, exported)
            exported[name] = exports
            if name == entry:
                parts.append(f"// ---- {name}\n{body}")
            else:
                returned = ", ".join(exports)
                parts.append(f"// ---- {name}\nconst __m{index[name]} = (() => {{\n{body}\nreturn {{ {returned} }};\n}})();\n")
        return "".join(parts)

    def _source(self, name: str) -> str:
        path = self.static_dir / name
        if not path.is_file():
            raise NotBundled(f"{name}: no such module")
        return path.read_text(encoding="utf-8")

    def _translate(self, name: str, index: dict[str, int], exported: dict[str, list[str]]) -> tuple[str, list[str]]:
        """The module's code with its imports as bindings and `export ` removed; and the names it exports."""
        text = self._source(name)

        def binding(m: re.Match[str]) -> str:
            source = resolve(name, m.group(3))
            ref = f"__m{index[source]}"
            if m.group(1) is not None:
                return f"const {{ {_bindings(m.group(1), name, exported[source])} }} = {ref};"
            if m.group(2) is not None:
                return f"const {m.group(2)} = {ref};"
            return ""  # a side-effect import: evaluated earlier, in order

        text = _IMPORT.sub(binding, text)
        if _ANY_IMPORT.search(text):
            raise NotBundled(f"{name}: an import form the bundle does not translate")
        exports: list[str] = []
        for m in _EXPORT.finditer(text):  # the first name of a declaration: an import of any other is refused
            exports.append(m.group(2))
        text = _EXPORT.sub(lambda m: m.group(1) + m.group(2), text)
        if _ANY_EXPORT.search(text):
            raise NotBundled(f"{name}: an export form the bundle does not translate")
        text = _DYNAMIC.sub(lambda m: f'import({m.group(1)}/static/{resolve(name, m.group(2))}{m.group(1)})', text)
        return text, exports
