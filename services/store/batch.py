"""A batch of records folded into rows, ready to be written in one transaction. Pure.

The consumer decodes each record into :class:`~services.store.records.Row` s and adds
them here; rows with the same primary key fold into one (see
:mod:`services.store.statements`), day rollups add up, and the batch remembers the next
offset of every partition it covers. Poison records (including numbers past their
columns' range, :mod:`services.store.fits`) count and are skipped, but their offsets
still advance: they are written as read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.store import durations
from services.store.fastresult import Execution
from services.store.fits import check, int_bounds, without_nul
from services.store.records import (
    DECODERS,
    Poison,
    Policy,
    Row,
    execution_row,
    read_result,
    result_identity,
    result_kept,
    result_rows,
)
from services.store.statements import STATEMENTS

__all__ = ["Batch", "add_day", "fold_day"]

INT_BOUNDS = int_bounds({name: statement.table for name, statement in STATEMENTS.items()})

TopicPartition = tuple[str, int]

_OUTCOME_COUNTS = {"passed": "passes", "failed": "failures", "skipped": "skips"}

_COUNTS = ("runs", "passes", "failures", "skips", "flaky", "duration_count")


def fold_day(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two rollups of the same test and day as one: counts and histograms add up."""
    merged = dict(old)
    merged["duration_hist"] = dict(old["duration_hist"])
    add_day(merged, new)
    return merged


def add_day(into: dict[str, Any], new: dict[str, Any]) -> None:
    """Add the rollup ``new`` to ``into``, in place (the batch owns ``into``)."""
    for name in _COUNTS:
        into[name] += new[name]
    into["duration_sum_s"] += new["duration_sum_s"]
    hist = into["duration_hist"]
    for index, count in new["duration_hist"].items():
        hist[index] = hist.get(index, 0) + count


@dataclass
class Batch:
    """Rows by statement and key, next offsets by partition, poison by (topic, kind)."""

    policy: Policy = field(default_factory=Policy)
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    poison: Counter[tuple[str, str]] = field(default_factory=Counter)
    first_poison: dict[tuple[str, str], str] = field(default_factory=dict)
    records: int = 0
    # (suite, scope, name, file_name) -> the test's key and identity columns
    _identities: dict[tuple[str, str, str, str | None], tuple[str, dict[str, Any]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def add_record(
        self,
        topic: str,
        partition: int,
        offset: int,
        *,
        key: bytes | None,
        value: bytes | None,
        base_topic: str,
    ) -> None:
        """Decode one record of ``topic`` (``base_topic``: its unprefixed name) into rows."""
        self.records += 1
        self.offsets[(topic, partition)] = offset + 1
        value = without_nul(value)
        try:
            if base_topic == "tests.results":  # the bulk of every stream: folded in place
                self._add_result(*read_result(value))
                return
            rows = DECODERS[base_topic](value, key, self.policy)
            check(rows, INT_BOUNDS)
        except Poison as exc:
            slot = (base_topic, exc.kind)
            self.poison[slot] += 1
            self.first_poison.setdefault(slot, f"{topic}[{partition}]@{offset}: {exc.detail}")
            return
        for row in rows:
            self.add(row)

    def add(self, row: Row) -> None:
        rows = self.rows.setdefault(row.statement, {})
        statement = STATEMENTS[row.statement]
        key = statement.key_of(row.values)
        seen = rows.get(key)
        if seen is None:
            rows[key] = row.values
        elif row.statement == "test_days":
            add_day(seen, row.values)  # decoders make a new dict per row: ours to change
        else:
            rows[key] = statement.fold(seen, row.values)

    def _add_result(self, result: Execution, at: datetime) -> None:
        """The rows of :func:`~services.store.records.result_rows`, folded into the rows
        already here without making new ones when the test and day are known (the same
        counts as :func:`add_day` and ``Seen.fold``)."""
        test = result.test
        who = (result.suite, test.scope, test.name, test.file_name)
        known = self._identities.get(who)
        if known is None:
            known = self._identities[who] = result_identity(result)
        key, identity = known
        day = self.rows.get("test_days", {}).get((key, at.date()))
        seen = self.rows.get("tests_seen", {}).get((key,))
        if day is None or seen is None:
            for row in result_rows(result, at, self.policy):
                self.add(row)
            return
        outcome, duration = result.result, result.duration_s
        day["runs"] += 1
        if outcome in _OUTCOME_COUNTS:
            day[_OUTCOME_COUNTS[outcome]] += 1
        if duration is not None:
            day["duration_count"] += 1
            day["duration_sum_s"] += duration
            durations.add(day["duration_hist"], duration)
        seen["first_seen_at"] = min(seen["first_seen_at"], at)
        seen["last_seen_at"] = max(seen["last_seen_at"], at)
        if outcome == "failed" and (
            seen["last_failure_at"] is None or at > seen["last_failure_at"]
        ):
            seen["last_failure_at"] = at
            seen["last_failure_reason"] = result.failure_reason
        if result_kept(result, self.policy):
            executions = self.rows.setdefault("test_results", {})
            if (result.event_id,) not in executions:  # Keep: the first one stays
                executions[(result.event_id,)] = execution_row(result, at, key, identity)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())
