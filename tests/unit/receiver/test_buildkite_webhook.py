"""What a webhook request keeps while it waits for Kafka's ack (``buildkite_webhook.py``)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path

import orjson

from services.receiver.frames import Outgoing
from services.receiver.metrics import Metrics
from services.receiver.settings import ReceiverSettings
from tests.unit.receiver.clients import running, unit_settings
from tests.unit.receiver.payloads import build_webhook

MARK = "a commit message no other object in this process holds"


def _parsed_alive() -> bool:
    """Whether a dict with the build's ``MARK`` message (the parsed webhook's) is alive."""
    return any(type(o) is dict and o.get("message") == MARK for o in gc.get_objects())


class WatchingLink:
    """A Kafka link that acks at once, noting whether the parsed webhook was still alive
    when each send began (the ack wait)."""

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
        WatchingLink.seen.append(_parsed_alive())

    async def recover(self) -> None:
        """Nothing to reconnect to."""

    async def close(self) -> None:
        """Nothing to flush."""


async def test_the_parsed_webhook_is_freed_before_the_request_waits_for_its_ack(
    tmp_path: Path,
) -> None:
    # held by every request in flight across the wait, the parsed bodies kept the
    # garbage collector busy (docs/benchmarks.md, Receiver, session 12)
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
