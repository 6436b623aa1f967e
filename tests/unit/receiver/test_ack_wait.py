"""What a request keeps alive while it waits for Kafka's ack: not what it parsed (held
by every request in flight, that kept the garbage collector busy; docs/benchmarks.md,
Receiver, session 12)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from bench.receiver import InstantLink
from schemas.tests import TestResult
from services.receiver.frames import Outgoing
from services.receiver.metrics import Metrics
from services.receiver.settings import ReceiverSettings
from tests.unit.ingest.payloads import fixture
from tests.unit.receiver.clients import (
    SUITES,
    IngestReceiver,
    LinkMaker,
    running,
    unit_settings,
)
from tests.unit.receiver.payloads import build_webhook

MARK = "a commit message no other object in this process holds"


def _parsed_alive() -> bool:
    """Whether a dict with the build's ``MARK`` message (the parsed webhook's) is alive."""
    return any(type(o) is dict and o.get("message") == MARK for o in gc.get_objects())


def _results() -> set[int]:
    """The ids of the test results alive (the models an upload is read into)."""
    return {id(o) for o in gc.get_objects() if isinstance(o, TestResult)}


class WatchingLink(InstantLink):
    """A Kafka link that acks at once, noting at each send (the ack wait) whether
    ``alive()`` is true."""

    def __init__(
        self, settings: ReceiverSettings, metrics: Metrics, alive: Callable[[], bool]
    ) -> None:
        super().__init__(settings, metrics)
        self.alive = alive
        self.seen: list[bool] = []

    async def send(self, messages: Sequence[Outgoing], deadline_s: float) -> None:
        self.seen.append(self.alive())
        await super().send(messages, deadline_s)


def _watching(alive: Callable[[], bool], links: list[WatchingLink]) -> LinkMaker:
    """A link maker for :func:`running` whose links watch ``alive`` (kept in ``links``)."""

    def make(settings: ReceiverSettings, metrics: Metrics) -> WatchingLink:
        links.append(WatchingLink(settings, metrics, alive))
        return links[-1]

    return make


async def test_the_parsed_webhook_is_freed_before_the_request_waits_for_its_ack(
    tmp_path: Path,
) -> None:
    payload = build_webhook()
    payload["build"]["message"] = MARK
    body = orjson.dumps(payload)
    del payload
    assert not _parsed_alive()
    links: list[WatchingLink] = []
    async with running(
        unit_settings(tmp_path / "spool"), link=_watching(_parsed_alive, links)
    ) as receiver:
        response = await receiver.post(None, raw=body, event="build.finished")
    assert response.status_code == 202
    assert response.json()["delivery"] == "kafka"
    assert links[0].seen == [False]


async def test_an_uploads_test_results_are_freed_before_it_waits_for_its_ack(
    tmp_path: Path,
) -> None:
    body = fixture("testengine/ruby_collector.json")
    before = _results()  # test results other tests left alive

    def results_alive() -> bool:
        """Whether a test result is alive that was not before the test."""
        return bool(_results() - before)

    links: list[WatchingLink] = []
    async with running(
        unit_settings(tmp_path / "spool"), link=_watching(results_alive, links)
    ) as receiver:
        response = await IngestReceiver(receiver).upload(body, token=SUITES["ledger-rspec"])
    assert response.status_code == 202, response.text
    assert response.json()["queued"] == 3
    assert links[0].seen == [False]
