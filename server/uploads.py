"""multipart/form-data uploads read into memory, never spooled to disk.

Starlette's form parser rolls files over 1 MB into temporary files; an upload here is at most
max_upload_bytes (BodyLimit refuses more before this runs), so it is read as it streams into
bytes, with limits on the parts and their headers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import Request

from .core.exceptions import InvalidRequest, TooLarge, Unsupported

MAX_PARTS = 8
MAX_FIELD_BYTES = 1024  # a text field (e.g. a name) is short
MAX_HEADER_BYTES = 4096


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)
    name: str = ""
    filename: str | None = None


@dataclass(frozen=True)
class Upload:
    """The one file of the form, and its other (short text) fields."""

    data: bytes
    filename: str
    content_type: str
    fields: dict[str, str]


async def read_upload(request: Request, *, field_name: str, max_bytes: int) -> Upload:
    """Parse the body as multipart/form-data with exactly one file part named `field_name`."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    kind_text = kind.decode("latin-1").lower()
    if kind_text != "multipart/form-data":
        raise Unsupported(f"Upload the image as multipart/form-data with a field named {field_name!r}, not as "
                          f"{kind_text or 'a body without a Content-Type'}.", ["content-type"])
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidRequest("The multipart body has no boundary in its Content-Type; let the browser or HTTP "
                             "library build the form.", ["content-type"])
    parts: list[_Part] = []
    header_name = bytearray()
    header_value = bytearray()
    problem: list[InvalidRequest | TooLarge] = []

    def begin() -> None:
        if len(parts) >= MAX_PARTS:
            problem.append(InvalidRequest(f"The form has more than {MAX_PARTS} parts; send the image alone, in "
                                          f"a field named {field_name!r}.", ["file"]))
        parts.append(_Part())

    def data(buf: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part.data += buf[start:end]
        limit = max_bytes if part.filename is not None else MAX_FIELD_BYTES
        if len(part.data) > limit and not problem:
            what = "file" if part.filename is not None else f"field {part.name!r}"
            problem.append(TooLarge(f"The {what} is larger than this server accepts ({limit:,} bytes).", ["file"]))

    def header_field(buf: bytes, start: int, end: int) -> None:
        header_name.extend(buf[start:end])

    def header_val(buf: bytes, start: int, end: int) -> None:
        header_value.extend(buf[start:end])

    def header_end() -> None:
        parts[-1].headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def headers_done() -> None:
        part = parts[-1]
        _, disposition = parse_options_header(part.headers.get(b"content-disposition"))
        part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        raw = disposition.get(b"filename")
        part.filename = None if raw is None else raw.decode("utf-8", "replace")

    parser = MultipartParser(boundary, {
        "on_part_begin": begin, "on_part_data": data, "on_header_field": header_field,
        "on_header_value": header_val, "on_header_end": header_end, "on_headers_finished": headers_done,
    }, max_header_size=MAX_HEADER_BYTES)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if problem:
                raise problem[0]
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidRequest(f"The multipart body is malformed ({exc}); let the browser or HTTP library build "
                             "the form.", ["file"]) from None
    files = [p for p in parts if p.filename is not None or p.name == field_name]
    chosen = [p for p in files if p.name == field_name]
    if not chosen:
        names = ", ".join(repr(p.name) for p in parts) or "no parts"
        raise InvalidRequest(f"Send the image as multipart/form-data in a field named {field_name!r} (the form had "
                             f"{names}).", [field_name])
    if len(files) > 1:
        raise InvalidRequest(f"The form carries {len(files)} files; upload one image at a time.", [field_name])
    part = chosen[0]
    fields = {p.name: p.data.decode("utf-8", "replace") for p in parts if p is not part}
    content_type = part.headers.get(b"content-type", b"").decode("latin-1")
    return Upload(bytes(part.data), part.filename or "", content_type, fields)
