"""``/api/v1/tests…``: tests and steps, the flaky ones now, one test's history by day.

A test's history is one item per UTC day from the store's daily rollups (runs, passes,
failures, skips, durations), newest first, each with the flaky evidence seen that day
and its Buildkite links. Test keys hold slashes (``suite/scope/name/file``) and steps a
``#`` (``pipeline#step``): put them in the path percent-encoded (``%2F`` or ``/``, and
``%23`` for ``#``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from services.api.ask import Ask
from services.api.cursor import Key, Order
from services.api.errors import NotFound
from services.api.pages import Json, page, plain
from services.api.params import CURSOR, LIMIT, Param
from services.store.tables import flaky_evidence, test_days, test_results, tests

__all__ = [
    "FLAKY_PARAMS",
    "HISTORY_PARAMS",
    "RESULT_PARAMS",
    "TEST_PARAMS",
    "flaky_of_service",
    "flaky_tests",
    "list_results",
    "list_tests",
    "test",
    "test_history",
]

KINDS = ("test", "step")
STATUSES = ("flaky", "stable")
TEST_PARAMS = (
    Param("suite", "Only tests of this suite (slug)."),
    Param("service", "Only tests of this service (its catalog suites, or as stored)."),
    Param("q", "Name or key contains this text (case-insensitive)."),
    Param("pipeline", "Only steps of this pipeline (slug)."),
    Param("kind", "Tests or pipeline steps.", choices=KINDS),
    Param("status", "Flaky status now.", choices=STATUSES),
    CURSOR,
    LIMIT,
)
FLAKY_PARAMS = (
    Param("suite", "Only tests of this suite (slug)."),
    Param("service", "Only tests of this service."),
    Param("pipeline", "Only steps of this pipeline (slug)."),
    Param("kind", "Tests or pipeline steps.", choices=KINDS),
    CURSOR,
    LIMIT,
)
HISTORY_PARAMS = (
    Param("since", "Days from this date on (UTC).", "date"),
    Param("until", "Days before this date (UTC).", "date"),
    CURSOR,
    LIMIT,
)
RESULT_PARAMS = (
    Param("result", "Only executions with this result.", choices=("passed", "failed", "skipped")),
    Param("since", "At or after this time.", "time"),
    Param("until", "Before this time.", "time"),
    CURSOR,
    LIMIT,
)

TEST_ORDER = Order(Key(tests.c.test_key))
FLAKY_ORDER = Order(
    Key(sa.func.coalesce(tests.c.score, 0.0), descending=True), Key(tests.c.test_key)
)
DAY_ORDER = Order(Key(test_days.c.day, descending=True))
RESULT_ORDER = Order(
    Key(test_results.c.at, descending=True), Key(test_results.c.event_id, descending=True)
)
_DAY_COLUMNS = [
    test_days.c.day,
    test_days.c.runs,
    test_days.c.passes,
    test_days.c.failures,
    test_days.c.skips,
    test_days.c.flaky,
    test_days.c.duration_count,
    test_days.c.duration_sum_s,
    test_days.c.duration_p50_s,
    test_days.c.duration_p95_s,
]
_EVIDENCE_COLUMNS = [c for c in flaky_evidence.c if c.name != "test_key"]


def _of_service(ask: Ask, service: str) -> sa.ColumnElement[bool]:
    known = ask.catalog.services.get(service)
    suites = sorted(known.test_suites) if known else []
    if not suites:
        return tests.c.service == service
    return sa.or_(tests.c.service == service, tests.c.suite.in_(suites))


def list_tests(ask: Ask) -> Json:
    q = ask.query
    select = sa.select(tests)
    if suite := q.text("suite"):
        select = select.where(tests.c.suite == suite)
    if service := q.text("service"):
        select = select.where(_of_service(ask, service))
    if text := q.text("q"):
        needle = text.lower()
        select = select.where(
            sa.or_(
                sa.func.lower(tests.c.name).contains(needle, autoescape=True),
                sa.func.lower(tests.c.test_key).contains(needle, autoescape=True),
            )
        )
    if pipeline := q.text("pipeline"):
        select = select.where(tests.c.pipeline == pipeline)
    if kind := q.choice("kind", KINDS):
        select = select.where(tests.c.kind == kind)
    if status := q.choice("status", STATUSES):
        select = select.where(tests.c.status == status)
    return page(ask.conn, select, TEST_ORDER, q, "tests")


def flaky_tests(ask: Ask) -> Json:
    """Tests and steps flagged flaky now, highest score first."""
    q = ask.query
    select = sa.select(tests).where(tests.c.status == "flaky")
    if suite := q.text("suite"):
        select = select.where(tests.c.suite == suite)
    if service := q.text("service"):
        select = select.where(_of_service(ask, service))
    if pipeline := q.text("pipeline"):
        select = select.where(tests.c.pipeline == pipeline)
    if kind := q.choice("kind", KINDS):
        select = select.where(tests.c.kind == kind)
    return page(ask.conn, select, FLAKY_ORDER, q, "flaky")


def _test_row(conn: sa.Connection, key: str) -> Json | None:
    row = conn.execute(sa.select(tests).where(tests.c.test_key == key)).first()
    return None if row is None else plain(row)


def test(ask: Ask) -> Json:
    key = ask.path_value("key")
    found = _test_row(ask.conn, key)
    if found is None:
        raise NotFound(f"no test {key!r} in the store")
    return found


def test_history(ask: Ask) -> Json:
    """Days newest first, each with its flaky evidence; ``test`` is the test now."""
    key = ask.path_value("key")
    q = ask.query
    select = sa.select(*_DAY_COLUMNS).where(test_days.c.test_key == key)
    if since := q.day("since"):
        select = select.where(test_days.c.day >= since)
    if until := q.day("until"):
        select = select.where(test_days.c.day < until)
    result = page(ask.conn, select, DAY_ORDER, q, f"history:{key}")
    now = _test_row(ask.conn, key)
    if now is None and not result["items"] and q.cursor() is None:
        raise NotFound(f"no test {key!r} in the store")
    days: list[date] = [item["day"] for item in result["items"]]
    evidence = _evidence(ask.conn, key, min(days), max(days)) if days else {}
    for item in result["items"]:
        item["evidence"] = evidence.get(item["day"], [])
    return {"test": now, **result}


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _evidence(conn: sa.Connection, key: str, first: date, last: date) -> dict[date, list[Json]]:
    rows = conn.execute(
        sa.select(*_EVIDENCE_COLUMNS)
        .where(
            flaky_evidence.c.test_key == key,
            flaky_evidence.c.at >= _start(first),
            flaky_evidence.c.at < _start(last + timedelta(days=1)),
        )
        .order_by(flaky_evidence.c.at.desc(), flaky_evidence.c.id)
    ).all()
    by_day: dict[date, list[Json]] = defaultdict(list)
    for row in rows:
        at: datetime = row._mapping["at"]
        by_day[at.astimezone(UTC).date()].append(plain(row))
    return by_day


def list_results(ask: Ask) -> Json:
    """The executions of one test the store kept (failures and retries by default)."""
    key = ask.path_value("key")
    q = ask.query
    select = sa.select(test_results).where(test_results.c.test_key == key)
    if result := q.choice("result", ("passed", "failed", "skipped")):
        select = select.where(test_results.c.result == result)
    if since := q.time("since"):
        select = select.where(test_results.c.at >= since)
    if until := q.time("until"):
        select = select.where(test_results.c.at < until)
    return page(ask.conn, select, RESULT_ORDER, q, f"results:{key}")


def flaky_of_service(ask: Ask, service: str, limit: int) -> list[Json]:
    rows = ask.conn.execute(
        sa.select(tests)
        .where(tests.c.status == "flaky", _of_service(ask, service))
        .order_by(*FLAKY_ORDER.order_by())
        .limit(limit)
    ).all()
    return [plain(r) for r in rows]
