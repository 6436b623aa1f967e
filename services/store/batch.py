"""A batch of records folded into rows, ready to be written in one transaction. Pure.

The consumer decodes each record into :class:`~services.store.records.Row` s and adds
them here; rows with the same primary key fold into one (see
:mod:`services.store.statements`), day rollups add up, and the batch remembers the next
offset of every partition it covers. Poison records count and are skipped, but their
offsets still advance: they are written as read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.store.records import DECODERS, Poison, Policy, Row
from services.store.statements import STATEMENTS

__all__ = ["Batch", "add_day", "fold_day"]

TopicPartition = tuple[str, int]

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
        try:
            rows = DECODERS[base_topic](value, key, self.policy)
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

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())
