"""The guarded stream's own parts: readability from the socket, the rest passed through,
and a TLS stream wrapped the same way (no TLS server needed to see that)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpcore

from services.dispatcher.outbound import _Stream


class Inner(httpcore.AsyncNetworkStream):
    """A stream over one end of a socket pair; start_tls gives another such stream."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.tls: tuple[str | None, float | None] | None = None

    def get_extra_info(self, info: str) -> Any:
        return {"socket": self.sock, "server_addr": ("203.0.113.9", 443)}.get(info)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        upgraded = Inner(self.sock)
        upgraded.tls = (server_hostname, timeout)
        return upgraded


def test_readable_once_the_peer_wrote_or_closed_and_not_before() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = _Stream(Inner(ours))
        assert stream.get_extra_info("is_readable") is False
        theirs.sendall(b"x")
        assert stream.get_extra_info("is_readable") is True
        ours.recv(1)
        theirs.close()  # the server's keep-alive timeout
        assert stream.get_extra_info("is_readable") is True


def test_a_stream_without_a_socket_counts_as_readable() -> None:
    assert _Stream(Inner(None)).get_extra_info("is_readable") is True


async def test_other_questions_and_tls_go_to_the_inner_stream() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = _Stream(Inner(ours))
        assert stream.get_extra_info("server_addr") == ("203.0.113.9", 443)
        upgraded = await stream.start_tls(ssl.create_default_context(), "hooks.example.com", 2.0)
        assert isinstance(upgraded, _Stream)
        assert upgraded._inner.tls == ("hooks.example.com", 2.0)  # type: ignore[attr-defined]
        assert upgraded.get_extra_info("is_readable") is False
        theirs.close()
        assert upgraded.get_extra_info("is_readable") is True
