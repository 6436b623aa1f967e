"""The receiver app on :class:`~tests.unit.receiver.clients.NoBroker`: its HTTP contract
without Kafka (what it accepts goes to its spool under the test's tmp_path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.receiver.clients import IngestReceiver, NoBroker, Receiver, running, unit_settings


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[Receiver]:
    async with running(unit_settings(tmp_path / "spool"), link=NoBroker) as app:
        yield app


@pytest.fixture
def ingest(receiver: Receiver) -> IngestReceiver:
    return IngestReceiver(receiver)
