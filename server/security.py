"""Response headers (a strict Content-Security-Policy with no inline script, nosniff, a Referrer-Policy),
CORS for the origins a deployer names, and the body-size limit.

The two values a deployer writes into headers, `frame_ancestors` and `cors_origins`, are checked here and
refused at start-up with a sentence, so that no setting can smuggle another directive into the policy.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_ANCESTORS_VAR = "CONVSCOPE_FRAME_ANCESTORS"
CORS_ORIGINS_VAR = "CONVSCOPE_CORS_ORIGINS"


def content_security_policy(frame_ancestors: str) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        # Plotly sets inline style attributes on the elements it draws.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {check_frame_ancestors(frame_ancestors)}",
    ])


# CSP Level 3, "ancestor-source-list": 'self', a scheme-source (https:) or a host-source
# ([scheme://]host[:port][/path], host possibly "*." + name). ';' and ',' may not appear in any of them.
_SCHEME = r"[a-z][a-z0-9+.\-]*"
_HOST = r"(?:\*|(?:\*\.)?[a-z0-9\-]+(?:\.[a-z0-9\-]+)*)"
_SOURCE = re.compile(rf"{_SCHEME}:|(?:{_SCHEME}://)?{_HOST}(?::(?:[0-9]+|\*))?(?:/[a-z0-9\-._~!$&()*+=:@%/]*)?")
_SOURCE_HINT = "use 'self', 'none', a scheme (https:) or a host (https://course.example.edu)"


def _refuse_setting(var: str, value: object, why: str) -> ValueError:
    return ValueError(f"{var}={value!r} is refused: {why}.")


def _header_safe(var: str, value: str, separators: str) -> None:
    """A value is refused if it could end its directive (';'), its policy (','), or the header itself."""
    for char, why in ((";", "';' would end the directive and start another one (such as script-src)"),
                      (",", "',' would start a second policy; separate sources with spaces")):
        if char in value and char not in separators:
            raise _refuse_setting(var, value, why)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise _refuse_setting(var, value, "a line break or control character would end the header")
    if not value.isascii():
        raise _refuse_setting(var, value, "write an international host name in its ASCII (xn--) form")


def check_frame_ancestors(value: str) -> str:
    """The value as it goes into `frame-ancestors`, or a ValueError whose sentence says what is wrong."""
    _header_safe(FRAME_ANCESTORS_VAR, value, separators="")
    sources = value.split()
    if not sources:
        raise _refuse_setting(FRAME_ANCESTORS_VAR, value, "it is empty; use 'none' to forbid embedding "
                                                          "everywhere, or 'self' for this site only")
    out = []
    for source in sources:
        lowered = source.lower()
        if lowered in ("'self'", "'none'"):
            out.append(lowered)
        elif lowered in ("self", "none"):
            raise _refuse_setting(FRAME_ANCESTORS_VAR, value, f"{source} needs its single quotes: '{lowered}'")
        elif source.startswith("'"):
            raise _refuse_setting(FRAME_ANCESTORS_VAR, value,
                                  f"{source} has no meaning in frame-ancestors; {_SOURCE_HINT}")
        elif _SOURCE.fullmatch(lowered):
            out.append(source)
        else:
            raise _refuse_setting(FRAME_ANCESTORS_VAR, value, f"{source!r} is not a source; {_SOURCE_HINT}")
    if "'none'" in out and len(out) > 1:
        raise _refuse_setting(FRAME_ANCESTORS_VAR, value, "'none' cannot be combined with other sources")
    return " ".join(out)


_ORIGIN = re.compile(r"(https?)://([a-z0-9\-]+(?:\.[a-z0-9\-]+)*|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
_DEFAULT_PORT = {"http": "80", "https": "443"}


def _origin(value: str, raw: str) -> str:
    """One origin as a browser sends it in the Origin header: scheme://host[:port], lower case, no path."""
    _header_safe(CORS_ORIGINS_VAR, raw, separators=",")
    lowered = value.strip().lower()
    match = _ORIGIN.fullmatch(lowered.rstrip("/"))
    if match is None:
        head = _ORIGIN.match(lowered)
        hint = (f"an origin has no path, write {head.group(0)!r}" if head and lowered[head.end()] == "/"
                else "an origin is scheme://host[:port], such as 'https://grader.example.edu'")
        raise _refuse_setting(CORS_ORIGINS_VAR, raw, f"{value.strip()!r} is not an origin: {hint}")
    if lowered.endswith("/"):
        raise _refuse_setting(CORS_ORIGINS_VAR, raw, f"{value.strip()!r} is not an origin: browsers send it "
                                                     f"without the trailing '/', write {match.group(0)!r}")
    scheme, host, port = match.groups()
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORT[scheme]) else f"{scheme}://{host}:{port}"


def check_cors_origins(origins: str | Iterable[str]) -> tuple[str, ...]:
    """The origins allowed to call the API from a browser, normalised; '*' alone allows every origin."""
    raw = origins if isinstance(origins, str) else ",".join(origins)
    values = [o for o in raw.split(",") if o.strip()]
    if any(o.strip() == "*" for o in values):
        if len(values) > 1:
            raise _refuse_setting(CORS_ORIGINS_VAR, raw, "'*' already allows every origin; give either '*' "
                                                         "or a list of origins")
        return ("*",)
    return tuple(dict.fromkeys(_origin(o, raw) for o in values))


class _Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the one error envelope."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        from .errors import error_response

        failures = bytes(response.body).decode().removeprefix("Disallowed CORS ").split(", ")
        reasons = {"origin": f"this origin is not one of the {CORS_ORIGINS_VAR}",
                   "method": "a browser may call it with GET or POST only",
                   "headers": "a call may send only the Content-Type header besides the safelisted ones",
                   "private-network": "private network access is not allowed"}
        sentence = "This cross-origin call is refused: " + "; ".join(reasons.get(f, f) for f in failures) + "."
        return error_response(403, sentence, headers={"Vary": response.headers["vary"]})


def outermost(app: ASGIApp, frame_ancestors: str, cors_origins: tuple[str, ...]) -> ASGIApp:
    """CORS (when origins are configured) and the security headers, around everything else, the 500 page
    included: Starlette sends that from outside the user middleware."""
    if cors_origins:
        # Private network access: a course site on the internet may call a server on the campus network.
        app = _Cors(app, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                    allow_headers=["content-type"], allow_private_network=True)
    return SecurityHeaders(app, frame_ancestors)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, frame_ancestors: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(frame_ancestors).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


class HeadAsGet:
    """HEAD wherever GET works: the app answers a GET, and the body is dropped (the headers stay, length too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def no_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, no_body)


def _under(path: str, prefix: str) -> bool:
    """The path is the prefix or below it; a `*` segment of the prefix matches any one segment."""
    if "*" not in prefix:
        return path == prefix or path.startswith(prefix + "/")
    want, got = prefix.split("/"), path.split("/")
    return len(got) >= len(want) and all(w in ("*", g) for w, g in zip(want, got))


class BodyLimit:
    """Refuse bodies past the cap with the 413 envelope.

    Content-Length is checked before the app runs; a chunked body is counted as it streams, and once it
    passes the cap the app's own answer to the cut-off body (FastAPI makes it a 400) is replaced by the 413.
    Upload paths (multipart images, ONNX models) get their own, larger caps.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int,
                 upload_prefix: str = "/api/v1/images", uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.uploads = {upload_prefix: max_upload_bytes, **(uploads or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        cap = next((c for prefix, c in self.uploads.items() if _under(path, prefix)), self.max_body)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await self._refuse(scope, receive, send, cap)
            return
        total = 0
        over = started = answered = False

        async def counting_receive() -> Message:
            nonlocal total, over
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > cap:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, answered
            if not over:
                started = started or message["type"] == "http.response.start"
                await send(message)
            elif started:
                raise _TooLarge  # a response already under way cannot become a 413: end the connection
            elif message["type"] == "http.response.start" and not answered:
                answered = True
                await self._refuse(scope, receive, send, cap)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over or started:
                raise
        if over and not answered:
            await self._refuse(scope, receive, send, cap)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        from .errors import error_response

        response = error_response(413, f"The request body is larger than this endpoint accepts ({cap:,} bytes).",
                                  headers={"Connection": "close"})
        await response(scope, receive, send)
