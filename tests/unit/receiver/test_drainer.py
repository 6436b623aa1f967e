"""The spool drainer outlives an error nobody foresaw: it logs it, pauses and goes on.

A drainer task that died would leave every later message in the spool until a restart
(a CI run once saw a spool stay full for two minutes after a producer was replaced).
The link below stands for a Kafka client whose replacement raises something no
``except`` names; Kafka's own behaviour is tests/integration/receiver's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.receiver.errors import ProduceFailed
from services.receiver.frames import Outgoing
from services.receiver.metrics import Metrics
from services.receiver.settings import ReceiverSettings
from tests.unit.receiver.clients import running, unit_settings
from tests.unit.receiver.payloads import build_webhook


class OddOnce:
    """Away at first; its first ``recover`` raises a ``RuntimeError``, its second
    connects; then it takes every message."""

    def __init__(self, settings: ReceiverSettings, _metrics: Metrics) -> None:
        self.bootstrap_servers = settings.bootstrap_servers
        self.kafka_up = False
        self.recovered = 0
        self.sent: list[Outgoing] = []

    @property
    def ready(self) -> bool:
        return self.kafka_up

    async def start(self, timeout_s: float = 5.0) -> bool:
        return False

    async def send(self, messages: Sequence[Outgoing], deadline_s: float) -> None:
        if not self.kafka_up:
            raise ProduceFailed("away")
        self.sent.extend(messages)

    async def recover(self) -> None:
        self.recovered += 1
        if self.recovered == 1:
            raise RuntimeError("the old producer's sender ended oddly")
        self.kafka_up = True

    async def close(self) -> None:
        """Nothing to flush."""


async def test_the_drainer_logs_an_unforeseen_error_and_drains_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    links: list[OddOnce] = []

    def link(settings: ReceiverSettings, metrics: Metrics) -> OddOnce:
        links.append(OddOnce(settings, metrics))
        return links[-1]

    async with running(unit_settings(tmp_path / "spool"), link=link) as receiver:
        answer = await receiver.post(build_webhook())
        assert answer.status_code == 202
        assert answer.json()["delivery"] == "spool"
        async with asyncio.timeout(20):
            while receiver.context.delivery.spool.pending_records:  # noqa: ASYNC110 - polls the spool
                await asyncio.sleep(0.05)
        errors = receiver.context.metrics.registry.get_sample_value(
            "kitestream_receiver_spool_drainer_errors_total"
        )
    assert [m.value for m in links[0].sent] != []
    assert links[0].recovered >= 2
    assert errors == 1
    assert "the spool drainer failed; going on in" in caplog.text
    assert "the old producer's sender ended oddly" in caplog.text
