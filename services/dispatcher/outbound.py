"""The HTTP clients sinks post with: one per sink, made once at start, guarded.

The guard sits where connections are opened, in the sink's transport
(:class:`~services.dispatcher.transport.LeanTransport`): the host name is resolved there,
*every* address it resolves to is checked against the sink's
:class:`~services.dispatcher.egress.Reach`, and the connection goes to a checked address.
So a name that resolves to a private address is refused, and DNS cannot change its answer
between the check and the connect. TLS still verifies the certificate for the host name.

Clients never follow redirects, ignore proxy variables from the environment (a proxy
would connect on our behalf, past the guard), and time out on connect and on read.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import httpx

from services.dispatcher.egress import Reach
from services.dispatcher.transport import LeanTransport, Resolver, system_resolver

__all__ = ["Resolver", "SinkClient", "make_client", "system_resolver"]

USER_AGENT = "kitestream-dispatcher/0.1"


class SinkClient:
    """What a sink sends with: one request at a time, its whole answer read.

    httpx's ``Request`` and ``Response`` models, exceptions and timeouts, without its
    client's layers (cookies, authentication, redirects, proxies, event hooks): a sink
    needs none of them, and together they cost more CPU than the HTTP exchange itself.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        timeout: httpx.Timeout,
        headers: dict[str, str],
    ) -> None:
        self._transport = transport
        self.timeout = timeout
        self._extensions = {"timeout": timeout.as_dict()}
        self._headers = {name.lower(): value for name, value in headers.items()}
        self._urls: dict[str, httpx.URL] = {}  # a sink posts to one or two URLs, parsed once

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = httpx.URL(url)
            if len(self._urls) > 64:  # not expected: keep the cache small anyway
                self._urls.clear()
        sent = self._headers
        if headers:  # a sink's header replaces a default of the same name
            sent = {**sent, **{name.lower(): value for name, value in headers.items()}}
        request = httpx.Request(
            method,
            parsed,
            params=params,
            headers=sent,
            content=content,
            extensions=self._extensions,
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def post(
        self, url: str, *, content: bytes | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.request("POST", url, content=content, headers=headers)

    async def get(self, url: str, *, params: dict[str, Any] | None = None) -> httpx.Response:
        return await self.request("GET", url, params=params)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> SinkClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def make_client(
    reach: Reach,
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    resolver: Resolver = system_resolver,
    max_connections: int = 4,
    ssl_context: ssl.SSLContext | None = None,
) -> SinkClient:
    """A :class:`SinkClient` whose every connection is made by a guarded
    :class:`~services.dispatcher.transport.LeanTransport`; ``ssl_context`` is the system's
    trust store with certificate and host name checks unless given.

    A sink's client needs ``max_connections`` for every delivery it may have in flight:
    a request that waits for a free connection longer than the connect timeout fails with
    ``PoolTimeout``, which reads as the sink timing out though nothing was sent.
    """
    # httpx logs each request with its full URL at INFO, and a Slack webhook URL is a
    # credential: keep httpx's (and httpcore's) own logging to warnings and above.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    transport = LeanTransport(
        reach, resolver=resolver, ssl_context=ssl_context, max_connections=max_connections
    )
    return SinkClient(
        transport,
        timeout=httpx.Timeout(
            connect=connect_timeout_s,
            read=read_timeout_s,
            write=read_timeout_s,
            pool=connect_timeout_s,
        ),
        headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
    )
