"""Reading HTTP/1.1 requests off a raw socket, for test servers that must control their
connections (keep-alive, closing under a request) as the recorder's server does not."""

from __future__ import annotations

import asyncio


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request, its head and its ``Content-Length`` body; ``IncompleteReadError``
    when the connection ends first."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)
