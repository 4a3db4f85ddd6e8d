"""Find script a strict CSP would block in HTML: <script> bodies, on*= handler attributes, javascript: URLs."""
from __future__ import annotations

import re
from html.parser import HTMLParser

_JINJA = [(re.compile(r"\{#.*?#\}", re.S), ""), (re.compile(r"\{\{.*?\}\}", re.S), "x"),
          (re.compile(r"\{%.*?%\}", re.S), "")]
# Browsers drop ASCII whitespace and control characters inside a URL's scheme ("java\tscript:").
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.append(f"line {line}: <{tag} {name}=...> is an inline event handler")
            if value and "javascript:" in _URL_NOISE.sub("", value).lower():
                self.findings.append(f"line {line}: <{tag} {name}={value!r}> is a javascript: URL")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.findings.append(f"line {self.getpos()[0]}: inline <script> body {data.strip()[:60]!r}")


def inline_script(html: str, *, template: bool = False) -> list[str]:
    """What in `html` is script outside a file of the app's own (empty when nothing is)."""
    if template:
        for pattern, replacement in _JINJA:
            html = pattern.sub(replacement, html)
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.findings
