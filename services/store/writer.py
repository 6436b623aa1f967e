"""Write a :class:`~services.store.batch.Batch` and its offsets in one transaction.

Order inside the transaction: the offsets first (a batch whose partitions moved on in
another writer stops there, see :mod:`services.store.offsets`), then flaky evidence
(which pieces are new decides the day rollups' ``flaky`` counts), then the day rollups
merged with the rows already stored, then every statement in
:data:`~services.store.statements.STATEMENTS` order, each compiled once and run on the
driver's ``executemany`` (:mod:`services.store.prepared`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.dml import Insert

from services.store import durations
from services.store.batch import Batch, TopicPartition, fold_day
from services.store.offsets import save_offsets
from services.store.prepared import Prepared, execute_many, prepare
from services.store.records import Row
from services.store.statements import STATEMENTS
from services.store.tables import flaky_evidence, test_days

__all__ = ["write_batch", "write_rows"]

CHUNK = 500


def write_batch(
    engine: Engine,
    batch: Batch,
    group_id: str,
    expected: Mapping[TopicPartition, int | None],
) -> None:
    """Rows and offsets in one transaction; :class:`OffsetMoved` rolls both back."""
    with engine.begin() as conn:
        save_offsets(conn, group_id, batch.offsets, expected)
        write_rows(conn, batch)


def write_rows(conn: Connection, batch: Batch) -> None:
    _count_new_evidence(conn, batch)
    _merge_days(conn, batch)
    dialect = conn.dialect.name
    for name, statement in STATEMENTS.items():
        rows = list(batch.rows.get(name, {}).values())
        if not rows:
            continue
        columns = tuple(rows[0])
        upserts = _UPSERTS.setdefault(conn.dialect, {})
        upsert = upserts.get((name, columns))
        if upsert is None:
            statement_ = statement.upsert(dialect, list(columns))
            upsert = upserts[(name, columns)] = (statement_, prepare(conn, statement_, columns))
        execute_many(conn, upsert[1], upsert[0], rows)


# Per dialect (an engine's: its JSON serialiser is in the bind processors), per
# (statement name, columns): the upsert and, when it can be, the upsert prepared
# (:mod:`services.store.prepared`). A handful of entries: each decoder always makes the
# same columns.
_UPSERTS: WeakKeyDictionary[
    Dialect, dict[tuple[str, tuple[str, ...]], tuple[Insert, Prepared | None]]
] = WeakKeyDictionary()


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _count_new_evidence(conn: Connection, batch: Batch) -> None:
    """Evidence not stored yet counts once into its test's day rollup."""
    rows = batch.rows.get("flaky_evidence", {})
    if not rows:
        return
    ids = [key[0] for key in rows]
    stored: set[str] = set()
    for chunk in _chunks(ids):
        query = sa.select(flaky_evidence.c.id).where(flaky_evidence.c.id.in_(chunk))
        stored.update(conn.scalars(query))
    for key, values in rows.items():
        identity = values.pop("_identity", None)
        if key[0] in stored or identity is None:
            continue
        suite, scope, name, file = identity
        batch.add(
            Row(
                "test_days",
                {
                    "test_key": values["test_key"],
                    "day": values["at"].date(),
                    "suite": suite,
                    "scope": scope,
                    "name": name,
                    "file": file,
                    "runs": 0,
                    "passes": 0,
                    "failures": 0,
                    "skips": 0,
                    "flaky": 1,
                    "duration_count": 0,
                    "duration_sum_s": 0.0,
                    "duration_hist": {},
                },
            )
        )


def _merge_days(conn: Connection, batch: Batch) -> None:
    """Add the stored rollups of the batch's (test, day) pairs, then compute p50/p95."""
    rows = batch.rows.get("test_days", {})
    if not rows:
        return
    days = sorted({day for _, day in rows})
    keys = sorted({key for key, _ in rows})
    c = test_days.c
    for chunk in _chunks(keys):
        query = sa.select(test_days).where(c.test_key.in_(chunk), c.day.in_(days))
        for stored in conn.execute(query).mappings():
            slot = (stored["test_key"], stored["day"])
            if slot in rows:
                rows[slot] = fold_day(dict(stored), rows[slot])
    for values in rows.values():
        values["duration_p50_s"] = durations.quantile(values["duration_hist"], 0.5)
        values["duration_p95_s"] = durations.quantile(values["duration_hist"], 0.95)
