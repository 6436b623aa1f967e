"""What was delivered where: the records on the compacted delivery topic. Pure.

Each (alert, sink) that is settled gets one record, key ``<alert_id>/<sink>``, on
``<prefix>kitestream.dispatcher-delivered`` (compacted, so the latest record per key is
kept forever). The dispatcher reads the topic back at start and after every rebalance
into a :class:`DeliveredIndex`, and skips what the index holds: a restart, or alerts read
again, do not send again.

The index also answers which alert a recovery resolves: ``flaky_test_recovered`` for a
test arrives under the same Kafka key (the test key) as the ``flaky_test`` it recovers,
so the latest non-recovery alert delivered to a sink under that key is the one to resolve
(PagerDuty resolves by the ``dedup_key`` it was triggered with, the ``alert_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.alerts import AlertKind
from schemas.base import UtcDateTime

__all__ = ["RECOVERY_KINDS", "DeliveredIndex", "DeliveryRecord", "Outcome", "record_key"]

RECOVERY_KINDS: frozenset[str] = frozenset({"flaky_test_recovered"})

# delivered: the sink took it; skipped: nothing to send (a recovery with nothing open);
# dead_lettered: given up on and written to the DLQ.
Outcome = Literal["delivered", "skipped", "dead_lettered"]


class DeliveryRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    alert_id: str
    sink: str
    outcome: Outcome
    attempts: int
    at: UtcDateTime
    kind: AlertKind
    created_at: UtcDateTime
    subject: str | None = None  # the alert's Kafka key
    note: str = ""

    def key(self) -> bytes:
        return record_key(self.alert_id, self.sink)


def record_key(alert_id: str, sink: str) -> bytes:
    return f"{alert_id}/{sink}".encode()


class DeliveredIndex:
    """The settled (alert, sink) pairs, and the latest trigger per (sink, subject)."""

    def __init__(self) -> None:
        self._settled: set[tuple[str, str]] = set()
        self._latest: dict[tuple[str, str], tuple[datetime, str]] = {}

    def __len__(self) -> int:
        return len(self._settled)

    def settled(self, alert_id: str, sink: str) -> bool:
        return (alert_id, sink) in self._settled

    def add(self, record: DeliveryRecord) -> None:
        """Take in one record; order does not matter (the topic has many partitions)."""
        self._settled.add((record.alert_id, record.sink))
        if (
            record.outcome == "delivered"
            and record.subject is not None
            and record.kind not in RECOVERY_KINDS
        ):
            slot = (record.sink, record.subject)
            seen = self._latest.get(slot)
            if seen is None or (record.created_at, record.alert_id) > seen:
                self._latest[slot] = (record.created_at, record.alert_id)

    def latest_trigger(self, sink: str, subject: str | None) -> str | None:
        """The ``alert_id`` of the newest non-recovery alert delivered under ``subject``."""
        if subject is None:
            return None
        seen = self._latest.get((sink, subject))
        return None if seen is None else seen[1]
