"""Retention: delete what is older than its setting, a bounded number of rows at a time.

Each table is pruned on one time column against one of three retentions (days; 0 keeps
forever). One :func:`prune_step` deletes at most ``batch`` rows per table, each table in
its own short transaction, so the writer never waits long; the service calls it between
batches until nothing is left, then waits ``KITESTREAM_STORE_PRUNE_INTERVAL_S``.
``tests``, ``pipelines`` and ``quarantine`` hold one row per subject and are never
pruned (a test's current quarantine state stays however old it is, its history of
changes goes with the events); a flaky episode goes once it has been recovered for
longer than the rollup retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.store import tables as t

__all__ = ["RULES", "Retention", "Rule", "prune_step"]

Class = Literal["results", "rollup", "events"]


@dataclass(frozen=True)
class Retention:
    """Days to keep each class of rows; 0 keeps them forever."""

    results_days: float = 30.0
    rollup_days: float = 400.0
    events_days: float = 400.0

    def days(self, kind: Class) -> float:
        return {"results": self.results_days, "rollup": self.rollup_days}.get(
            kind, self.events_days
        )


@dataclass(frozen=True)
class Rule:
    table: sa.Table
    column: str
    kind: Class


RULES: tuple[Rule, ...] = (
    Rule(t.test_results, "at", "results"),
    Rule(t.flaky_evidence, "at", "results"),
    Rule(t.test_days, "day", "rollup"),
    Rule(t.flaky_episodes, "recovered_at", "rollup"),
    Rule(t.builds, "event_at", "events"),
    Rule(t.jobs, "event_at", "events"),
    Rule(t.test_runs, "event_at", "events"),
    Rule(t.deploys, "event_at", "events"),
    Rule(t.incidents, "event_at", "events"),
    Rule(t.alerts, "created_at", "events"),
    Rule(t.deliveries, "at", "events"),
    Rule(t.quarantine_changes, "at", "events"),
)


def _cutoff(rule: Rule, now: datetime, days: float) -> datetime | date:
    at = now - timedelta(days=days)
    return at.date() if isinstance(rule.table.c[rule.column].type, sa.Date) else at


def prune_step(engine: Engine, retention: Retention, now: datetime, batch: int) -> dict[str, int]:
    """Delete up to ``batch`` expired rows per table; the rows deleted, by table (a table
    with ``batch`` deleted may hold more)."""
    deleted: dict[str, int] = {}
    for rule in RULES:
        days = retention.days(rule.kind)
        if days <= 0:
            continue
        table = rule.table
        key: Any = [table.c[c.name] for c in table.primary_key.columns]
        expired = (
            sa.select(*key).where(table.c[rule.column] < _cutoff(rule, now, days)).limit(batch)
        )
        target = key[0].in_(expired) if len(key) == 1 else sa.tuple_(*key).in_(expired)
        with engine.begin() as conn:
            count = conn.execute(sa.delete(table).where(target)).rowcount
        if count:
            deleted[table.name] = count
    return deleted
