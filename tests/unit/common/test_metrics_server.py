"""Processor metrics listen on loopback unless KITESTREAM_METRICS_HOST says otherwise.

127.0.0.2 is another loopback address on Linux: a server bound to 127.0.0.1 does not
answer there, one bound to every address (0.0.0.0) does, as it would on a pod's IP.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from services.common.metrics import serve_metrics
from services.common.settings import KafkaSettings
from services.correlator.settings import CorrelatorSettings
from services.dispatcher.settings import DispatcherSettings
from services.flakiness.settings import ServiceSettings
from services.reconcile.settings import ReconcileSettings
from tests.ports import free_port


@contextmanager
def serving(**host: str) -> Iterator[int]:
    registry = CollectorRegistry()
    Counter("kitestream_test_things", "Things.", registry=registry).inc()
    port = free_port()
    server = serve_metrics(registry, port, "flakiness", **host)
    assert server is not None
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def answers(address: str, port: int) -> bool:
    try:
        response = httpx.get(f"http://{address}:{port}/metrics", timeout=5)
    except httpx.ConnectError:
        return False
    return response.status_code == 200 and "kitestream_test_things_total 1.0" in response.text


def test_metrics_listen_on_loopback_only_by_default() -> None:
    with serving() as port:
        assert answers("127.0.0.1", port)
        assert not answers("127.0.0.2", port)


def test_metrics_listen_on_every_address_when_told() -> None:
    with serving(host="0.0.0.0") as port:  # noqa: S104 - what the test is about
        assert answers("127.0.0.1", port)
        assert answers("127.0.0.2", port)


def test_a_port_in_use_leaves_the_service_running_without_metrics() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_metrics(CollectorRegistry(), port, "dispatcher") is None
    assert serve_metrics(CollectorRegistry(), 0, "dispatcher") is None  # 0: off


@pytest.mark.parametrize(
    "settings_type",
    [KafkaSettings, ServiceSettings, CorrelatorSettings, DispatcherSettings, ReconcileSettings],
)
def test_every_processor_reads_the_metrics_host_from_the_environment(
    settings_type: type[KafkaSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITESTREAM_ROUTES", "routes.yaml")  # the dispatcher requires it
    monkeypatch.setenv("BUILDKITE_API_TOKEN", "token")  # and reconcile these
    monkeypatch.setenv("KITESTREAM_BUILDKITE_ORG", "acme")
    monkeypatch.delenv("KITESTREAM_METRICS_HOST", raising=False)
    assert settings_type().metrics_host == "127.0.0.1"
    monkeypatch.setenv("KITESTREAM_METRICS_HOST", "0.0.0.0")  # noqa: S104
    assert settings_type().metrics_host == "0.0.0.0"  # noqa: S104
