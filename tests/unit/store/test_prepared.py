from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.store.database import make_engine
from services.store.prepared import prepare, sqlite_utc_text
from services.store.statements import STATEMENTS
from services.store.tables import UtcTimestamp

_SQLITE = make_engine("sqlite://")
_SA_PROCESS = UtcTimestamp().dialect_impl(_SQLITE.dialect).bind_processor(_SQLITE.dialect)

_zones: st.SearchStrategy[tzinfo | None] = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-23))]
)


@settings(max_examples=300)
@given(
    naive=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    zone=_zones,
)
def test_a_time_is_the_text_sqlalchemy_would_store(naive: datetime, zone: tzinfo | None) -> None:
    value = naive.replace(tzinfo=zone)
    assert _SA_PROCESS is not None
    assert sqlite_utc_text(value) == _SA_PROCESS(value)


def test_no_time_is_null() -> None:
    assert sqlite_utc_text(None) is None


def test_an_upsert_with_a_literal_in_its_sql_is_left_to_sqlalchemy() -> None:
    # Latest compares event_id with '' : a parameter that is not a column
    builds = STATEMENTS["builds"]
    columns = [c.name for c in builds.table.c]
    with _SQLITE.connect() as conn:
        assert prepare(conn, builds.upsert("sqlite", columns), columns) is None


def test_rows_become_parameters_in_the_order_of_the_sql() -> None:
    columns = ["event_id", "test_key", "suite", "scope", "name", "file", "result", "attempt"]
    columns += ["duration_s", "failure_reason", "failure_expanded", "upload_id", "build_id"]
    columns += ["build_number", "job_id", "commit", "branch", "url", "at"]
    at = datetime(2026, 8, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    row: dict[str, Any] = {name: name for name in columns}
    row.update(attempt=1, duration_s=2, failure_expanded=[], at=at)
    statement = STATEMENTS["test_results"].upsert("sqlite", list(reversed(columns)))
    with _SQLITE.connect() as conn:
        prepared = prepare(conn, statement, list(reversed(columns)))
    assert prepared is not None
    (params,) = prepared.parameters([row])
    by_name = dict(zip(prepared.names, params, strict=True))
    assert by_name["at"] == "2026-08-01 10:00:00.000000"
    assert by_name["failure_expanded"] == "[]"
    assert by_name["duration_s"] == 2.0
    assert by_name["suite"] == "suite"
    assert prepared.sql.startswith("INSERT INTO test_results")
