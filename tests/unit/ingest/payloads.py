"""Fixture payloads and request builders shared by the ingest tests."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ingest"
RECEIVED_AT = datetime(2026, 8, 1, 10, 30, tzinfo=UTC)


def fixture(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes]], boundary: str | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body as curl -F builds it, and its Content-Type."""
    boundary = boundary or f"------------------------{uuid.uuid4().hex[:24]}"
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, (filename, content) in files.items():
        out += (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
