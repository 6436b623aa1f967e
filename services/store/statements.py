"""How rows with the same primary key combine: in Python within a batch, in SQL with the
database. The two halves of each :class:`Statement` agree, so folding a batch first and
upserting it after gives the rows that upserting every record one by one would.

- :class:`Latest`: the row of the newest message wins (``order`` columns, compared as a
  tuple); a newer message's NULLs keep what the row had, an older message fills only
  the columns still NULL. Replaying any message changes nothing. A row whose
  ``event_id`` is ``''`` (a build known only from a job's build reference) loses to
  any real message.
- :class:`Newest`: the row of the newest message wins whole, NULLs included (a
  quarantine change that clears ``until`` clears it); replaying changes nothing.
- :class:`Keep`: the first row stays (``insert ... on conflict do nothing``): immutable
  facts such as test executions and evidence.
- :class:`Replace`: the last row written wins (alerts, delivery records, day rollups
  after their merge in :mod:`services.store.writer`).
- :class:`Seen`: a test seen in ``tests.results``: first/last seen are the min/max, the
  last failure is the newest failure; flaky status columns are left alone.
- :class:`Recovered`: a flaky episode keeps the first ``recovered_at`` it was given.

Upserts are ``insert ... on conflict`` statements of the SQLite or PostgreSQL dialect
(the same syntax on both), executed with every row of the batch at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from services.store import tables as t

__all__ = [
    "STATEMENTS",
    "Keep",
    "Latest",
    "Newest",
    "Recovered",
    "Replace",
    "Seen",
    "Statement",
]

Values = dict[str, Any]


def dialect_insert(table: sa.Table, dialect: str) -> postgresql.Insert | sqlite.Insert:
    """``insert(table)`` of the dialect, which knows ``on_conflict_do_update``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"the store supports sqlite and postgresql, not {dialect}")


class Statement:
    """Writes one kind of row into ``table``, upserting on its primary key."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        self.key: tuple[str, ...] = tuple(c.name for c in table.primary_key.columns)
        # itemgetter of several names gives a tuple; of one, the bare value
        self._get = itemgetter(*self.key)

    def key_of(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        got = self._get(values)
        return got if len(self.key) > 1 else (got,)

    def fold(self, old: Values, new: Values) -> Values:
        """Two rows with the same key, ``new`` read after ``old``, as one (``old`` may be
        changed and returned: callers hand over both)."""
        raise NotImplementedError

    def upsert(self, dialect: str, columns: list[str]) -> Insert:
        raise NotImplementedError


def _newer(new: Mapping[str, Any], old: Mapping[str, Any], order: tuple[str, ...]) -> bool:
    if old.get("event_id") == "":
        return True
    if old[order[0]] is None:
        return True
    if new[order[0]] is None:
        return False
    return tuple(new[o] for o in order) >= tuple(old[o] for o in order)


class Latest(Statement):
    def __init__(self, table: sa.Table, order: tuple[str, ...]) -> None:
        super().__init__(table)
        self.order = order

    def fold(self, old: Values, new: Values) -> Values:
        first, second = (old, new) if _newer(new, old, self.order) else (new, old)
        merged = dict(second)
        for column, value in first.items():
            if merged.get(column) is None:
                merged[column] = value
        return merged

    def upsert(self, dialect: str, columns: list[str]) -> Insert:
        stmt = dialect_insert(self.table, dialect)
        new, row = stmt.excluded, self.table.c
        head = self.order[0]
        newer: sa.ColumnElement[bool] = sa.or_(row[head].is_(None), new[head] > row[head])
        if len(self.order) == 2:
            second = self.order[1]
            newer = sa.or_(newer, sa.and_(new[head] == row[head], new[second] >= row[second]))
        else:
            newer = sa.or_(newer, new[head] == row[head])
        if "event_id" in row:
            newer = sa.or_(row.event_id == "", newer)
        values = {
            c: sa.case(
                (newer, sa.func.coalesce(new[c], row[c])),
                else_=sa.func.coalesce(row[c], new[c]),
            )
            for c in columns
            if c not in self.key
        }
        return stmt.on_conflict_do_update(index_elements=list(self.key), set_=values)


class Newest(Statement):
    """The newest row by ``order`` (a tuple of columns, none NULL) replaces the older."""

    def __init__(self, table: sa.Table, order: tuple[str, ...]) -> None:
        super().__init__(table)
        self.order = order

    def fold(self, old: Values, new: Values) -> Values:
        newer = tuple(new[o] for o in self.order) >= tuple(old[o] for o in self.order)
        return new if newer else old

    def upsert(self, dialect: str, columns: list[str]) -> Insert:
        stmt = dialect_insert(self.table, dialect)
        new, row = stmt.excluded, self.table.c
        newer: sa.ColumnElement[bool] = sa.false()
        same: sa.ColumnElement[bool] = sa.true()
        for column in self.order:  # lexicographic: (a, b) >= (a', b')
            newer = sa.or_(newer, sa.and_(same, new[column] > row[column]))
            same = sa.and_(same, new[column] == row[column])
        newer = sa.or_(newer, same)
        values = {c: sa.case((newer, new[c]), else_=row[c]) for c in columns if c not in self.key}
        return stmt.on_conflict_do_update(index_elements=list(self.key), set_=values)


class Keep(Statement):
    def fold(self, old: Values, new: Values) -> Values:
        return old

    def upsert(self, dialect: str, columns: list[str]) -> Insert:
        return dialect_insert(self.table, dialect).on_conflict_do_nothing(
            index_elements=list(self.key)
        )


class Replace(Statement):
    def fold(self, old: Values, new: Values) -> Values:
        return new

    def upsert(self, dialect: str, columns: list[str]) -> Insert:
        stmt = dialect_insert(self.table, dialect)
        values = {c: stmt.excluded[c] for c in columns if c not in self.key}
        return stmt.on_conflict_do_update(index_elements=list(self.key), set_=values)


class Seen(Statement):
    def fold(self, old: Values, new: Values) -> Values:
        # In place: the batch owns ``old`` (decoders make a new dict per row), and a
        # busy test folds thousands of executions per batch.
        old["first_seen_at"] = min(old["first_seen_at"], new["first_seen_at"])
        old["last_seen_at"] = max(old["last_seen_at"], new["last_seen_at"])
        failed_at = new["last_failure_at"]
        if failed_at is not None and (
            old["last_failure_at"] is None or failed_at > old["last_failure_at"]
        ):
            old["last_failure_at"] = failed_at
            old["last_failure_reason"] = new["last_failure_reason"]
        if new["service"] is not None:
            old["service"] = new["service"]
        return old

    def upsert(self, dialect: str, columns: list[str]) -> Insert:
        stmt = dialect_insert(self.table, dialect)
        new, row = stmt.excluded, self.table.c
        newer_failure = sa.and_(
            new.last_failure_at.is_not(None),
            sa.or_(row.last_failure_at.is_(None), new.last_failure_at > row.last_failure_at),
        )
        values: dict[str, Any] = {
            "first_seen_at": sa.case(
                (
                    sa.or_(row.first_seen_at.is_(None), new.first_seen_at < row.first_seen_at),
                    new.first_seen_at,
                ),
                else_=row.first_seen_at,
            ),
            "last_seen_at": sa.case(
                (
                    sa.or_(row.last_seen_at.is_(None), new.last_seen_at > row.last_seen_at),
                    new.last_seen_at,
                ),
                else_=row.last_seen_at,
            ),
            "last_failure_at": sa.case(
                (newer_failure, new.last_failure_at), else_=row.last_failure_at
            ),
            "last_failure_reason": sa.case(
                (newer_failure, new.last_failure_reason), else_=row.last_failure_reason
            ),
            "service": sa.func.coalesce(new.service, row.service),
        }
        for c in ("suite", "scope", "name", "file"):
            values[c] = sa.func.coalesce(row[c], new[c])
        return stmt.on_conflict_do_update(index_elements=list(self.key), set_=values)


class Recovered(Statement):
    def fold(self, old: Values, new: Values) -> Values:
        return old if old["recovered_at"] is not None else new

    def upsert(self, dialect: str, columns: list[str]) -> Insert:
        stmt = dialect_insert(self.table, dialect)
        recovered = sa.func.coalesce(self.table.c.recovered_at, stmt.excluded.recovered_at)
        return stmt.on_conflict_do_update(
            index_elements=list(self.key), set_={"recovered_at": recovered}
        )


EVENT_ORDER = ("event_at", "event_id")

# Statement name (``Row.statement``) -> how it is written. Dicts keep insertion order,
# and the writer runs them in this order: builds before build references, so that a
# build event and a job's reference to it in one batch leave the build event's row.
STATEMENTS: dict[str, Statement] = {
    "pipelines": Latest(t.pipelines, ("last_seen_at",)),
    "builds": Latest(t.builds, EVENT_ORDER),
    "build_refs": Keep(t.builds),
    "jobs": Latest(t.jobs, EVENT_ORDER),
    "test_results": Keep(t.test_results),
    "test_days": Replace(t.test_days),
    "tests_state": Latest(t.tests, ("state_updated_at",)),
    "tests_seen": Seen(t.tests),
    "flaky_evidence": Keep(t.flaky_evidence),
    "flaky_episodes": Recovered(t.flaky_episodes),
    "test_runs": Latest(t.test_runs, EVENT_ORDER),
    "deploys": Latest(t.deploys, EVENT_ORDER),
    "incidents": Latest(t.incidents, EVENT_ORDER),
    "alerts": Replace(t.alerts),
    "quarantine": Newest(t.quarantine, ("at", "change_id")),
    "quarantine_changes": Keep(t.quarantine_changes),
    "deliveries": Replace(t.deliveries),
}
