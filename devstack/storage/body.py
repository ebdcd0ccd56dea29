"""Receiving an upload's body: raw (the bytes as sent) or multipart (one file part, plus the fields
`cacheControl`, `contentType`, `metadata`), streamed straight into the staged file as it arrives.

Multipart is parsed incrementally (python-multipart's parser, the one Starlette uses), so the file part
is written once, where it is kept, instead of being spooled to a temporary file first and copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from devstack.storage import errors
from devstack.storage.files import Staged, StagedWriter

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)


@dataclass
class Received:
    staged: Staged
    content_type: str | None  # the file part's own type (multipart only)
    fields: dict[str, str]


class _Events:
    """Collects the parser's callbacks (they are synchronous) for the request loop to act on."""

    def __init__(self) -> None:
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.part = _Part()
        self.out: list[tuple[str, object]] = []

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self.header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": lambda: self.out.append(("headers", self.part)),
            "on_part_data": lambda data, start, end: self.out.append(("data", bytes(data[start:end]))),
            "on_part_end": lambda: self.out.append(("end", self.part)),
        }

    def _begin(self) -> None:
        self.part = _Part()

    def _header_end(self) -> None:
        self.part.headers[self.header_field.decode("latin-1").lower()] = self.header_value.decode("latin-1")
        self.header_field.clear()
        self.header_value.clear()


def _describe(part: _Part) -> None:
    _, options = parse_options_header(part.headers.get("content-disposition", ""))
    part.name = options.get(b"name", b"").decode()
    raw_filename = options.get(b"filename")
    part.filename = raw_filename.decode() if raw_filename is not None else None
    part.content_type = part.headers.get("content-type", "")


async def receive_raw(request: Request, writer: StagedWriter) -> Received:
    try:
        async for chunk in request.stream():
            await writer.feed(chunk)
        return Received(await writer.finish(), None, {})
    except BaseException:
        await writer.abort()
        raise


async def receive_multipart(request: Request, writer: StagedWriter, content_type: str) -> Received:
    """The first part with a filename is the file (storage-js names its field '', supabase-py `file`)."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        await writer.abort()
        raise errors.invalid_request("Missing boundary in multipart/form-data")
    events = _Events()
    parser = MultipartParser(boundary, events.callbacks())  # type: ignore[arg-type]
    fields: dict[str, str] = {}
    file_part: _Part | None = None
    current: _Part | None = None
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            for kind, value in events.out:
                if kind == "headers":
                    assert isinstance(value, _Part)
                    _describe(value)
                    current = value
                    if value.filename is not None and file_part is None:
                        file_part = value
                elif kind == "data" and current is not None:
                    assert isinstance(value, bytes)
                    if current is file_part:
                        await writer.feed(value)
                    elif len(current.data) + len(value) <= MAX_FIELD_BYTES:
                        current.data.extend(value)
                elif kind == "end" and current is not None and current is not file_part:
                    fields[current.name] = current.data.decode(errors="replace")
            events.out.clear()
        parser.finalize()
        if file_part is None:
            raise errors.invalid_request("No content provided")
        return Received(await writer.finish(), file_part.content_type or None, fields)
    except BaseException:
        await writer.abort()
        raise
