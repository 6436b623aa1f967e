"""``multipart/form-data`` read from bytes already in memory, complete or refused.

Starlette's ``request.form()`` streams to temporary files and forgives a body that
stops before its closing boundary; an upload API must not (a truncated upload would
silently lose tests), and a pure parser is easier to test. The body size is bounded
by the receiver before it gets here, so everything stays in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from services.ingest.errors import MalformedBody, PayloadTooLarge

__all__ = ["Form", "Part", "parse_form"]

MAX_PARTS = 200


@dataclass(frozen=True)
class Part:
    """One form field or file: its name, file name (files only), type and bytes."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Form:
    parts: list[Part] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The first plain field called ``name``, decoded as UTF-8."""
        for part in self.parts:
            if part.name == name:
                return part.data.decode("utf-8", errors="replace")
        return None

    def files(self, name: str) -> list[Part]:
        return [part for part in self.parts if part.name == name]

    def fields_with_prefix(self, prefix: str) -> dict[str, str]:
        """``{"CI": "buildkite"}`` from fields named ``run_env[CI]`` (prefix ``run_env``)."""
        out: dict[str, str] = {}
        opening = prefix + "["
        for part in self.parts:
            if part.name.startswith(opening) and part.name.endswith("]"):
                key = part.name[len(opening) : -1]
                out.setdefault(key, part.data.decode("utf-8", errors="replace"))
        return out


def _utf8(header: str | None) -> str | None:
    """A header value read byte for byte, decoded as the UTF-8 it most likely is."""
    return None if header is None else header.encode("latin-1").decode("utf-8", "replace")


class _Collector:
    """Callbacks for :class:`MultipartParser` that gather parts and headers."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.ended = False
        self._headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._data = bytearray()

    def on_part_begin(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise PayloadTooLarge(f"more than {MAX_PARTS} form parts")
        self._headers = {}
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        # Byte for byte (latin-1), as parse_options_header expects; names and file names
        # are UTF-8 (RFC 7578) and decoded as such below.
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("latin-1").strip()
        self._field = bytearray()
        self._value = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def on_part_end(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in params:
            raise MalformedBody("a form part has no Content-Disposition: form-data; name=…")
        filename = params.get(b"filename")
        self.parts.append(
            Part(
                name=params[b"name"].decode("utf-8", errors="replace"),
                data=bytes(self._data),
                filename=filename.decode("utf-8", errors="replace") if filename else None,
                content_type=_utf8(self._headers.get("content-type")),
            )
        )

    def on_end(self) -> None:
        self.ended = True


def parse_form(body: bytes, boundary: str | None) -> Form:
    """Every part of a multipart body; :class:`MalformedBody` unless it is complete."""
    if not boundary:
        raise MalformedBody("multipart/form-data without a boundary")
    collector = _Collector()
    try:
        parser = MultipartParser(
            boundary.encode("latin-1"),
            callbacks={
                "on_part_begin": collector.on_part_begin,
                "on_header_field": collector.on_header_field,
                "on_header_value": collector.on_header_value,
                "on_header_end": collector.on_header_end,
                "on_part_data": collector.on_part_data,
                "on_part_end": collector.on_part_end,
                "on_end": collector.on_end,
            },
        )
        parser.write(body)
        parser.finalize()
    except (MultipartParseError, UnicodeEncodeError, ValueError) as exc:
        raise MalformedBody(f"the multipart body is malformed: {exc}") from None
    if not collector.ended:
        raise MalformedBody("the multipart body is truncated (no closing boundary)")
    return Form(collector.parts)
