"""``/api/v1/quarantine`` and ``/api/v1/tests/{key}/quarantine``: muted and skipped tests.

The store keeps the latest ``tests.quarantine`` change per test (``quarantine``) and
every change (``quarantine_changes``). A change whose ``until`` has passed is lapsed:
the test is active again, so the list leaves it out. ``at`` asks "as of when"
(default: now), which is also how tests pin the clock.

Runners read the list with their suite's token (``KITESTREAM_TEST_SUITES``): such a
token sees its own suite only, whatever ``suite`` it asks for.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from schemas.quarantine import QuarantineChange
from services.api.ask import Ask
from services.api.cursor import Key, Order
from services.api.pages import Json, page, plain
from services.api.params import CURSOR, LIMIT, Param
from services.quarantine.state import TestIdentity, change_from_row, effective
from services.store.tables import quarantine, quarantine_changes, tests

__all__ = [
    "HISTORY_LIMIT",
    "QUARANTINE_PARAMS",
    "current_change",
    "file_of",
    "identity_of",
    "list_quarantine",
    "quarantined",
    "test_quarantine",
]

HISTORY_LIMIT = 50
QUARANTINE_PARAMS = (
    Param("suite", "Only tests of this suite (slug); a suite token sees its own only."),
    Param("state", "Only muted or only skipped tests.", choices=("muted", "skipped")),
    Param("at", "As of this time (default now): changes lapsed by then are left out.", "time"),
    CURSOR,
    LIMIT,
)
ORDER = Order(Key(quarantine.c.test_key))


def _in_force(at: datetime) -> sa.ColumnElement[bool]:
    q = quarantine.c
    return sa.and_(q.state.in_(("muted", "skipped")), sa.or_(q.until.is_(None), q.until > at))


def list_quarantine(ask: Ask) -> Json:
    """Tests muted or skipped at ``at`` (default now), by test key."""
    q = ask.query
    at = q.time("at") or datetime.now(UTC)
    select = sa.select(quarantine).where(_in_force(at))
    if suite := q.text("suite"):
        select = select.where(quarantine.c.suite == suite)
    if state := q.choice("state", ("muted", "skipped")):
        select = select.where(quarantine.c.state == state)
    return page(ask.conn, select, ORDER, q, "quarantine")


def quarantined(conn: sa.Connection, suite: str, at: datetime) -> list[Json]:
    """Every test of ``suite`` muted or skipped at ``at`` (for test plans)."""
    select = sa.select(quarantine).where(_in_force(at), quarantine.c.suite == suite)
    return [plain(row) for row in conn.execute(select.order_by(quarantine.c.test_key))]


def test_quarantine(ask: Ask) -> Json:
    """A test's quarantine now (``state``: effective at ``at``), and its changes, newest
    first (the last :data:`HISTORY_LIMIT`)."""
    key = ask.path_value("key")
    at = ask.query.time("at") or datetime.now(UTC)
    current = current_change(ask.conn, key)
    rows = ask.conn.execute(
        sa.select(quarantine_changes)
        .where(quarantine_changes.c.test_key == key)
        .order_by(quarantine_changes.c.at.desc(), quarantine_changes.c.change_id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return {
        "key": key,
        "state": effective(current, at),
        "current": None if current is None else _json(current),
        "history": [plain(row) for row in rows],
    }


def _json(change: QuarantineChange) -> Json:
    return change.model_dump(mode="python")


def current_change(conn: sa.Connection, key: str) -> QuarantineChange | None:
    """The latest change the store holds for test ``key``."""
    row = conn.execute(sa.select(quarantine).where(quarantine.c.test_key == key)).first()
    if row is None:
        return None
    return change_from_row(row._mapping)


def identity_of(conn: sa.Connection, key: str) -> TestIdentity | None:
    """Suite, scope, name and file of test ``key``, from the tests the store has seen
    (or from its quarantine row); ``None`` when the store knows no such test."""
    for table in (tests, quarantine):
        row = conn.execute(
            sa.select(table.c.suite, table.c.scope, table.c.name, table.c.file).where(
                table.c.test_key == key
            )
        ).first()
        if row is not None and row.suite and row.name:
            return TestIdentity(row.suite, row.scope or "", row.name, row.file or None)
    return None


def file_of(conn: sa.Connection, suite: str, scope: str, name: str) -> str | None:
    """The file of a test named by suite, scope and name only, so that a change lands
    under the key the test already has: its quarantine row's (with or without a file),
    else the one test the store knows by those (``None`` when none, or several)."""
    q, t = quarantine.c, tests.c
    quarantined = conn.execute(
        sa.select(q.file).where(q.suite == suite, q.scope == scope, q.name == name).limit(2)
    ).all()
    if quarantined:
        return quarantined[0].file if len(quarantined) == 1 else None
    files = conn.execute(
        sa.select(t.file).where(t.suite == suite, t.scope == scope, t.name == name).limit(2)
    ).all()
    return files[0].file if len(files) == 1 and files[0].file else None
