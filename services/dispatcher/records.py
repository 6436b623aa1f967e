"""What was delivered where: the records on the compacted delivery topic. Pure.

Each (alert, sink) that is settled gets one record, key ``<alert_id>/<sink>``, on
``<prefix>kitestream.dispatcher-delivered`` (compacted, so the latest record per key is
kept, and deleted once the index below would forget it:
:func:`services.dispatcher.deliverylog.delivered_topic_config`). The dispatcher reads the topic back at start and after every rebalance
into a :class:`DeliveredIndex`, and skips what the index holds: a restart, or alerts read
again, do not send again.

The index keeps a settled pair only while its alert can still be read again: for
``retention_s`` (by default how long ``alerts`` keeps a record, see
:func:`services.dispatcher.deliverylog.replay_horizon_s`) after the record's ``at``. A
record is written after its alert was, so its ``at`` is never earlier than the alert's
time on the topic, and once ``retention_s`` has passed the alert is gone from ``alerts``:
no restart, rebalance or new consumer group reads it again. The index's clock is the
newest ``at`` it has seen, or the time it was told with :meth:`DeliveredIndex.advance`
(the dispatcher tells it the time before reading the records back), so reading the
topic back in any order keeps the same pairs. Pairs leave oldest first from a heap,
O(log n) each: memory follows the alerts of one retention, not of all time.

::

    at:     09:00   10:00   11:00   …   09:00 + retention
    pairs:  a1/pd   a2/pd   a3/slack    ◀ a1/pd leaves once the clock passes here

The index also answers which alert a recovery resolves: ``flaky_test_recovered`` for a
test arrives under the same Kafka key (the test key) as the ``flaky_test`` it recovers,
so the latest non-recovery alert delivered to a sink under that key is the one to resolve
(PagerDuty resolves by the ``dedup_key`` it was triggered with, the ``alert_id``).
"""

from __future__ import annotations

import heapq
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
    """The settled (alert, sink) pairs of the last ``retention_s`` (``None``: all of them),
    and the latest trigger per (sink, subject)."""

    def __init__(self, retention_s: float | None = None) -> None:
        self.retention_s = retention_s
        self._settled: dict[tuple[str, str], float] = {}  # pair -> its record's at (epoch s)
        self._expiry: list[tuple[float, tuple[str, str]]] = []  # (at, pair), oldest first
        self._newest = float("-inf")  # the newest at seen, or advanced to: the index's clock
        # One entry per (sink, subject), kept for good: as many as tests and services,
        # not alerts, and a recovery may come months after its trigger.
        self._latest: dict[tuple[str, str], tuple[datetime, str]] = {}

    def __len__(self) -> int:
        return len(self._settled)

    def settled(self, alert_id: str, sink: str) -> bool:
        return (alert_id, sink) in self._settled

    def add(self, record: DeliveryRecord) -> None:
        """Take in one record; order does not matter (the topic has many partitions)."""
        pair, at = (record.alert_id, record.sink), record.at.timestamp()
        self._newest = max(self._newest, at)
        held = self._settled.get(pair)
        if held is None or at > held:
            self._settled[pair] = at
            heapq.heappush(self._expiry, (at, pair))
        self._evict()
        if (
            record.outcome == "delivered"
            and record.subject is not None
            and record.kind not in RECOVERY_KINDS
        ):
            slot = (record.sink, record.subject)
            seen = self._latest.get(slot)
            if seen is None or (record.created_at, record.alert_id) > seen:
                self._latest[slot] = (record.created_at, record.alert_id)

    def advance(self, now_s: float) -> None:
        """Move the clock to ``now_s`` (epoch seconds) unless it is there already."""
        self._newest = max(self._newest, now_s)
        self._evict()

    def _evict(self) -> None:
        """Let go of the pairs settled more than ``retention_s`` before the newest."""
        if self.retention_s is None:
            return
        horizon, expiry = self._newest - self.retention_s, self._expiry
        while expiry and expiry[0][0] < horizon:
            at, pair = heapq.heappop(expiry)
            if self._settled.get(pair) == at:  # else settled again later: a newer entry
                del self._settled[pair]

    def latest_trigger(self, sink: str, subject: str | None) -> str | None:
        """The ``alert_id`` of the newest non-recovery alert delivered under ``subject``."""
        if subject is None:
            return None
        seen = self._latest.get((sink, subject))
        return None if seen is None else seen[1]
