"""A sink's client reuses its keep-alive connections, and sees the ones the server closed
while they sat idle: the next delivery goes on a new connection instead of failing.

The sinks' transport asks an idle connection whether its socket is readable before
reusing it (for an idle HTTP/1.1 connection that means the server closed it,
``services.dispatcher.transport``), so it is tested on real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.dispatcher.egress import Reach
from services.dispatcher.outbound import make_client
from tests.integration.dispatcher.rawhttp import read_request

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


class KeepAliveServer:
    """Answers every request 200 on a keep-alive connection; ``close_idle()`` closes
    every connection it holds, as a server's keep-alive timeout does."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                await read_request(reader)
                self.requests += 1
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def close_idle(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await asyncio.sleep(0.1)  # the FINs reach the client's sockets


@pytest.fixture
async def server() -> AsyncIterator[KeepAliveServer]:
    keep = KeepAliveServer()
    listening = await asyncio.start_server(keep._serve, "127.0.0.1", 0)
    keep.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield keep


async def test_a_connection_is_reused_and_one_the_server_closed_is_replaced(
    server: KeepAliveServer,
) -> None:
    url = f"http://127.0.0.1:{server.port}/hook"
    async with make_client(Reach.LOOPBACK, connect_timeout_s=2, read_timeout_s=2) as client:
        for _ in range(3):
            assert (await client.post(url, content=b"{}")).status_code == 200
        assert (server.connections, server.requests) == (1, 3)  # one keep-alive connection

        await server.close_idle()
        assert (await client.post(url, content=b"{}")).status_code == 200
        assert (server.connections, server.requests) == (2, 4)


async def test_many_idle_connections_closed_at_once_are_all_replaced(
    server: KeepAliveServer,
) -> None:
    url = f"http://127.0.0.1:{server.port}/hook"
    async with make_client(
        Reach.LOOPBACK, connect_timeout_s=2, read_timeout_s=2, max_connections=8
    ) as client:
        answers = await asyncio.gather(*(client.post(url, content=b"{}") for _ in range(8)))
        assert [a.status_code for a in answers] == [200] * 8
        opened = server.connections
        assert opened > 1  # several in flight at once, each on its own connection

        await server.close_idle()
        answers = await asyncio.gather(*(client.post(url, content=b"{}") for _ in range(8)))
        assert [a.status_code for a in answers] == [200] * 8
        assert server.requests == 16
        assert server.connections > opened
