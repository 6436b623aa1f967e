"""Server-side request forgery is refused: private addresses, names that resolve to
them, redirects to them, and plain http where it is not allowed."""

from __future__ import annotations

import pytest

from services.dispatcher.egress import Reach
from services.dispatcher.errors import ConfigError, DeliveryFailed, DestinationRefused
from services.dispatcher.outbound import Resolver, make_client
from services.dispatcher.sinks import Envelope
from tests.integration.dispatcher.harness import make_sink
from tests.integration.dispatcher.recorder import RecordingServer, Reply
from tests.unit.dispatcher.factories import make_alert

SECRET = {"SECRET": "s3cret"}


def fixed(mapping: dict[str, list[str]]) -> Resolver:
    """A resolver that answers from ``mapping`` (no network), as DNS would."""

    async def resolve(host: str, port: int) -> list[str]:
        return mapping[host]

    return resolve


async def test_a_name_resolving_to_loopback_is_refused_without_allow_private() -> None:
    with RecordingServer() as server:
        sink = make_sink(
            {
                "type": "webhook",
                "url": f"https://localhost:{server.port}/hook",
                "secret_env": "SECRET",
            },
            SECRET,
        )
        with pytest.raises(DeliveryFailed) as caught:
            await sink.send([Envelope(make_alert())], attempt=1)
        await sink.aclose()
    assert not caught.value.retryable
    assert "localhost resolves to" in caught.value.reason
    assert "loopback address" in caught.value.reason
    assert server.received == []


async def test_a_private_address_is_refused_when_connecting() -> None:
    with RecordingServer() as server:
        async with make_client(Reach.PUBLIC, connect_timeout_s=2, read_timeout_s=2) as client:
            with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1: loopback address"):
                await client.post(server.url(), content=b"{}")
    assert server.received == []


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.1.2.3", "private address"),
        ("192.168.0.10", "private address"),
        ("169.254.10.10", "link-local address"),
        ("::ffff:10.0.0.1", "private address"),
        ("fd12:3456::1", "private address"),
    ],
)
async def test_a_name_resolving_to_a_private_address_is_refused(address: str, why: str) -> None:
    resolver = fixed({"hooks.example.test": [address]})
    async with make_client(
        Reach.PUBLIC, connect_timeout_s=2, read_timeout_s=2, resolver=resolver
    ) as client:
        with pytest.raises(DestinationRefused, match=why):
            await client.post("https://hooks.example.test/hook", content=b"{}")


async def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    resolver = fixed({"hooks.example.test": ["93.184.216.34", "10.0.0.7"]})
    async with make_client(
        Reach.PUBLIC, connect_timeout_s=2, read_timeout_s=2, resolver=resolver
    ) as client:
        with pytest.raises(DestinationRefused, match=r"10\.0\.0\.7"):
            await client.get("https://hooks.example.test/")


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254"])
async def test_cloud_metadata_is_refused_even_with_allow_private(address: str) -> None:
    resolver = fixed({"metadata.example.test": [address]})
    async with make_client(
        Reach.PRIVATE, connect_timeout_s=2, read_timeout_s=2, resolver=resolver
    ) as client:
        with pytest.raises(DestinationRefused, match="cloud metadata"):
            await client.get("http://metadata.example.test/latest/meta-data/")


async def test_a_redirect_to_a_private_address_is_not_followed() -> None:
    with RecordingServer() as inner:
        redirect = Reply(302, b"", headers=(("Location", inner.url("/admin")),))
        with RecordingServer(lambda r, n: redirect) as outer:
            sink = make_sink(
                {
                    "type": "webhook",
                    "url": outer.url(),
                    "secret_env": "SECRET",
                    "allow_private": True,
                },
                SECRET,
            )
            with pytest.raises(DeliveryFailed) as caught:
                await sink.send([Envelope(make_alert())], attempt=1)
            await sink.aclose()
    assert not caught.value.retryable
    assert "redirects are not followed" in caught.value.reason
    assert len(outer.received) == 1
    assert inner.received == []


async def test_development_mode_allows_plain_http_to_loopback_only() -> None:
    with RecordingServer() as server:
        sink = make_sink(
            {"type": "webhook", "url": server.url(), "secret_env": "SECRET"},
            SECRET,
            dev_mode=True,
        )
        await sink.send([Envelope(make_alert())], attempt=1)
        await sink.aclose()
    assert len(server.received) == 1
    public = make_sink(
        {"type": "webhook", "url": "http://hooks.example.test/", "secret_env": "SECRET"},
        SECRET,
        dev_mode=True,
        resolver=fixed({"hooks.example.test": ["93.184.216.34"]}),
    )
    with pytest.raises(DeliveryFailed, match="plain http is allowed to loopback only"):
        await public.send([Envelope(make_alert())], attempt=1)
    await public.aclose()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "plain http to hooks.example.com refused"),
        ("https://127.0.0.1/x", "loopback address"),
        ("https://10.0.0.1/x", "private address"),
        ("https://[::1]/x", "loopback address"),
        ("https://169.254.169.254/x", "cloud metadata"),
        ("ftp://hooks.example.com/x", "not an http"),
        ("https://user:pw@hooks.example.com/x", "credentials in the URL"),
    ],
)
def test_sinks_with_unsafe_urls_are_refused_at_start(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as caught:
        make_sink({"type": "webhook", "url": url, "secret_env": "SECRET"}, SECRET)
    assert "/x" not in str(caught.value)  # the path may be a secret


async def test_clients_ignore_proxy_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with RecordingServer() as proxy, RecordingServer() as sink:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url())
        async with make_client(Reach.LOOPBACK, connect_timeout_s=2, read_timeout_s=2) as client:
            assert (await client.post(sink.url(), content=b"{}")).status_code == 200
        assert (len(sink.received), len(proxy.received)) == (1, 0)
