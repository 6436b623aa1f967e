"""What a request keeps alive while it waits for Kafka's ack: not what it parsed (held
by every request in flight, that kept the garbage collector busy; docs/benchmarks.md,
Receiver, session 12)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path

import orjson

from schemas.tests import TestResult
from services.receiver.frames import Outgoing
from services.receiver.metrics import Metrics
from services.receiver.settings import ReceiverSettings
from tests.unit.ingest.payloads import fixture
from tests.unit.receiver.clients import SUITES, IngestReceiver, running, unit_settings
from tests.unit.receiver.payloads import build_webhook

MARK = "a commit message no other object in this process holds"


def _parsed_alive() -> bool:
    """Whether a dict with the build's ``MARK`` message (the parsed webhook's) is alive."""
    return any(type(o) is dict and o.get("message") == MARK for o in gc.get_objects())


def _results() -> set[int]:
    """The ids of the test results alive (the models an upload is read into)."""
    return {id(o) for o in gc.get_objects() if isinstance(o, TestResult)}


def _results_alive() -> bool:
    """Whether a test result is alive that was not before the test (``_BEFORE``)."""
    return bool(_results() - _BEFORE)


_BEFORE: set[int] = set()  # test results other tests left alive


class WatchingLink:
    """A Kafka link that acks at once, noting for each send (the ack wait) whether
    ``WatchingLink.alive()`` was true."""

    alive = staticmethod(_parsed_alive)
    seen: list[bool]

    def __init__(self, settings: ReceiverSettings, _metrics: Metrics) -> None:
        self.bootstrap_servers = settings.bootstrap_servers
        self.kafka_up = True
        WatchingLink.seen = []

    @property
    def ready(self) -> bool:
        return True

    async def start(self, timeout_s: float = 5.0) -> bool:
        return True

    async def send(self, messages: Sequence[Outgoing], deadline_s: float) -> None:
        WatchingLink.seen.append(WatchingLink.alive())

    async def recover(self) -> None:
        """Nothing to reconnect to."""

    async def close(self) -> None:
        """Nothing to flush."""


async def test_the_parsed_webhook_is_freed_before_the_request_waits_for_its_ack(
    tmp_path: Path,
) -> None:
    WatchingLink.alive = staticmethod(_parsed_alive)
    payload = build_webhook()
    payload["build"]["message"] = MARK
    body = orjson.dumps(payload)
    del payload
    assert not _parsed_alive()
    async with running(unit_settings(tmp_path / "spool"), link=WatchingLink) as receiver:
        response = await receiver.post(None, raw=body, event="build.finished")
    assert response.status_code == 202
    assert response.json()["delivery"] == "kafka"
    assert WatchingLink.seen == [False]


async def test_an_uploads_test_results_are_freed_before_it_waits_for_its_ack(
    tmp_path: Path,
) -> None:
    WatchingLink.alive = staticmethod(_results_alive)
    body = fixture("testengine/ruby_collector.json")
    _BEFORE.clear()
    _BEFORE.update(_results())
    async with running(unit_settings(tmp_path / "spool"), link=WatchingLink) as receiver:
        response = await IngestReceiver(receiver).upload(body, token=SUITES["ledger-rspec"])
    assert response.status_code == 202, response.text
    assert response.json()["queued"] == 3
    assert WatchingLink.seen == [False]
