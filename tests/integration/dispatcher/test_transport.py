"""The sinks' HTTP/1.1 transport against real sockets: servers that answer in each way
HTTP allows (lengths, chunks, the connection's end, interim answers, compressed bodies),
that close kept-alive connections under it, that stall, that are not HTTP at all, and
TLS with a test CA (certificate and host name checked)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from services.dispatcher import transport
from services.dispatcher.egress import Reach
from services.dispatcher.errors import DeliveryFailed, DestinationRefused
from services.dispatcher.outbound import SinkClient, make_client
from services.dispatcher.sinks.request import request
from tests.integration.dispatcher.rawhttp import read_request

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

# (connection number, request number on it, the request's bytes) -> what to write back;
# None closes the connection without a word.
Script = Callable[[int, int, bytes], bytes | None]


@dataclass
class ScriptedServer:
    """Reads each request whole (head and content-length body) and writes what the
    script says; counts connections and requests, and keeps what it was sent."""

    script: Script
    close_after_answer: bool = False
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number, on_it = self.connections, 0
        try:
            while True:
                whole = await read_request(reader)
                self.requests.append(whole)
                on_it += 1
                answer = self.script(number, on_it, whole)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, path: str = "/hook", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


Serve = Callable[..., Awaitable[ScriptedServer]]


@pytest.fixture
async def serving() -> AsyncIterator[Serve]:
    """Starts a :class:`ScriptedServer` on 127.0.0.1 (TLS with a context given)."""
    opened: list[asyncio.Server] = []

    async def start(
        script: Script, tls: ssl.SSLContext | None = None, *, close_after_answer: bool = False
    ) -> ScriptedServer:
        server = ScriptedServer(script, close_after_answer)
        listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
        server.port = listening.sockets[0].getsockname()[1]
        opened.append(listening)
        return server

    yield start
    for listening in opened:
        listening.close()


def client(**kw: object) -> SinkClient:
    values: dict[str, object] = {"connect_timeout_s": 2, "read_timeout_s": 2, **kw}
    return make_client(Reach.PRIVATE, **values)  # type: ignore[arg-type]


def always(answer: bytes) -> Script:
    return lambda _conn, _n, _request: answer


async def test_a_kept_alive_connection_carries_the_next_requests(serving: Serve) -> None:
    server = await serving(always(OK))
    async with client() as c:
        for _ in range(3):
            response = await c.post(server.url(), content=b'{"a": 1}')
            assert (response.status_code, response.text) == (200, "ok")
    assert (server.connections, len(server.requests)) == (1, 3)
    first = server.requests[0]
    assert first.startswith(b"POST /hook HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in first.lower()
    assert b"\r\ncontent-length: 8\r\n" in first.lower()
    assert first.endswith(b'\r\n\r\n{"a": 1}')


async def test_a_sinks_header_replaces_a_default_of_the_same_name(serving: Serve) -> None:
    server = await serving(always(OK))
    async with client() as c:
        await c.request("POST", server.url(), content=b"{}", headers={"ACCEPT": "text/plain"})
        await c.post(server.url(), content=b"{}")
    given, default = (r.lower().split(b"\r\n\r\n")[0].split(b"\r\n") for r in server.requests)
    assert [h for h in given if h.startswith(b"accept:")] == [b"accept: text/plain"]
    assert [h for h in default if h.startswith(b"accept:")] == [b"accept: */*"]
    assert [h for h in given if h.startswith(b"user-agent:")] == [
        b"user-agent: kitestream-dispatcher/0.1"
    ]


async def test_a_chunked_answer_is_read_whole_and_the_connection_kept(serving: Serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"
    )
    server = await serving(always(chunked))
    async with client() as c:
        assert [(await c.post(server.url(), content=b"{}")).text for _ in range(2)] == [
            "hello",
            "hello",
        ]
    assert server.connections == 1


async def test_an_answer_that_ends_with_its_connection_is_read_and_not_reused(
    serving: Serve,
) -> None:
    # no length, no chunks: the body runs to the connection's close
    server = await serving(always(b"HTTP/1.1 200 OK\r\n\r\nbye"), close_after_answer=True)
    async with client() as c:
        for _ in range(2):
            assert (await c.post(server.url(), content=b"{}")).text == "bye"
    assert server.connections == 2


async def test_an_http_1_0_answer_is_not_kept_alive(serving: Serve) -> None:
    server = await serving(always(b"HTTP/1.0 202 Accepted\r\ncontent-length: 0\r\n\r\n"))
    async with client() as c:
        for _ in range(2):
            response = await c.post(server.url(), content=b"{}")
            assert (response.status_code, response.reason_phrase) == (202, "Accepted")
    assert server.connections == 2


async def test_interim_answers_are_passed_over(serving: Serve) -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n"
    server = await serving(always(early + b"HTTP/1.1 201 Created\r\nx-final: 1\r\n" + OK[17:]))
    async with client() as c:
        response = await c.post(server.url(), content=b"{}")
    assert (response.status_code, response.text) == (201, "ok")
    assert "link" not in response.headers
    assert response.headers["x-final"] == "1"


async def test_a_compressed_answer_is_decoded(serving: Serve) -> None:
    body = gzip.compress(b"rate limited, slow down")
    answer = b"HTTP/1.1 429 Too Many Requests\r\ncontent-encoding: gzip\r\n"
    server = await serving(always(answer + b"content-length: %d\r\n\r\n" % len(body) + body))
    async with client() as c:
        assert (await c.post(server.url(), content=b"{}")).text == "rate limited, slow down"


async def test_a_kept_connection_the_server_drops_under_a_request_is_replaced_once(
    serving: Serve,
) -> None:
    # The first connection answers once, then closes when the second request arrives
    # (its keep-alive timeout raced our request): the request goes again on a new one.
    server = await serving(lambda conn, n, _r: OK if conn > 1 or n == 1 else None)
    async with client() as c:
        assert (await c.post(server.url(), content=b"1")).status_code == 200
        assert (await c.post(server.url(), content=b"2")).status_code == 200
    assert server.connections == 2
    assert [r[-1:] for r in server.requests] == [b"1", b"2", b"2"]


async def test_a_new_connection_closed_without_an_answer_is_a_retryable_failure(
    serving: Serve,
) -> None:
    server = await serving(lambda _c, _n, _r: None)
    async with client() as c:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await c.post(server.url(), content=b"{}")
        with pytest.raises(DeliveryFailed) as failed:
            await request(c, "POST", server.url(), content=b"{}")
    assert failed.value.retryable
    assert failed.value.sink_down
    assert server.connections == 2  # a new connection is not sent to twice


async def test_a_body_cut_short_is_an_error(serving: Serve) -> None:
    # the answer promises 10 bytes and the server closes after 2
    cut = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok"
    server = await serving(always(cut), close_after_answer=True)
    async with client() as c:
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            await c.post(server.url(), content=b"{}")


async def test_an_answer_that_is_not_http_is_refused(serving: Serve) -> None:
    server = await serving(always(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"))
    async with client() as c:
        with pytest.raises(httpx.RemoteProtocolError, match="not an HTTP answer"):
            await c.post(server.url(), content=b"{}")


async def test_an_answer_over_the_limit_is_refused(
    serving: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 1000)
    big = b"x" * 5000
    server = await serving(always(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n" + big))
    async with client() as c:
        with pytest.raises(httpx.RemoteProtocolError, match="over 1000 bytes"):
            await c.post(server.url(), content=b"{}")


async def test_a_server_that_does_not_answer_times_out(serving: Serve) -> None:
    server = await serving(always(b""))  # reads the request, says nothing
    async with client(read_timeout_s=0.3) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.post(server.url(), content=b"{}")


async def test_a_request_waiting_for_a_busy_connection_times_out_in_the_pool(
    serving: Serve,
) -> None:
    server = await serving(always(b""))
    async with client(read_timeout_s=2, connect_timeout_s=0.3, max_connections=1) as c:
        stuck = asyncio.create_task(c.post(server.url(), content=b"{}"))
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await c.post(server.url(), content=b"{}")
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck


async def test_idle_connections_past_their_expiry_are_not_reused(
    serving: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "KEEPALIVE_EXPIRY_S", 0.0)
    server = await serving(always(OK))
    async with client() as c:
        for _ in range(2):
            await c.post(server.url(), content=b"{}")
    assert server.connections == 2


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb", "a\rb", "a\x00b"])
async def test_a_header_holding_a_line_break_is_refused_before_sending(
    serving: Serve, value: str
) -> None:
    server = await serving(always(OK))
    async with client() as c:
        with pytest.raises(httpx.LocalProtocolError):
            await c.request("POST", server.url(), content=b"{}", headers={"x-key": value})
    assert server.connections == 0


# TLS: a test CA, a server certificate for hooks.example.test, names resolved to loopback


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


async def test_https_checks_the_certificate_and_keeps_the_connection(
    serving: Serve, ca: trustme.CA
) -> None:
    server = await serving(always(OK), tls_server(ca, "hooks.example.test"))
    url = server.url(scheme="https", host="hooks.example.test")
    async with client(resolver=to_loopback, ssl_context=trusting(ca)) as c:
        for _ in range(2):
            assert (await c.post(url, content=b"{}")).text == "ok"
    assert server.connections == 1
    assert b"\r\nhost: hooks.example.test:" in server.requests[0].lower()


async def test_https_to_a_certificate_for_another_name_is_refused(
    serving: Serve, ca: trustme.CA
) -> None:
    server = await serving(always(OK), tls_server(ca, "other.example.test"))
    async with client(resolver=to_loopback, ssl_context=trusting(ca)) as c:
        with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
            await c.post(server.url(scheme="https", host="hooks.example.test"), content=b"{}")
    assert server.requests == []


async def test_https_to_a_certificate_of_an_unknown_ca_is_refused(
    serving: Serve, ca: trustme.CA
) -> None:
    server = await serving(always(OK), tls_server(ca, "hooks.example.test"))
    async with client(resolver=to_loopback) as c:  # the system's trust store
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await c.post(server.url(scheme="https", host="hooks.example.test"), content=b"{}")
    assert server.requests == []


async def test_the_guard_refuses_before_connecting(serving: Serve) -> None:
    server = await serving(always(OK))
    async with make_client(Reach.PUBLIC, connect_timeout_s=1, read_timeout_s=1) as c:
        with pytest.raises(DestinationRefused, match="loopback"):
            await c.post(server.url(), content=b"{}")
    assert server.connections == 0
