"""The message bytes and the event id both readers of a webhook share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from schemas.base import stable_id
from services.receiver.routed import encode, event_id_for
from tests.thorough import examples

_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-10))])


@settings(max_examples=examples(2000))
@given(at=st.datetimes(timezones=st.just(UTC)), zone=_ZONES)
def test_the_message_writes_a_utc_datetime_as_pydantic_does(at: datetime, zone: timezone) -> None:
    as_pydantic = TypeAdapter(datetime).dump_python(at, mode="json")
    try:
        received = at.astimezone(zone)
    except OverflowError:
        received = at
    message = encode("e", "build.finished", received, build={"finished_at": at}, payload={})
    value = orjson.loads(message)
    assert value["received_at"] == value["build"]["finished_at"] == as_pydantic


@settings(max_examples=examples(2000))
@given(at=st.none() | st.datetimes(timezones=st.just(UTC)), state=st.none() | st.text())
def test_the_event_id_hashes_the_latest_timestamp_as_isoformat_writes_it(
    at: datetime | None, state: str | None
) -> None:
    expected = stable_id("build.finished", "b1", state, None if at is None else at.isoformat())
    assert event_id_for("build.finished", "b1", state, at) == expected


def test_the_event_id_of_a_known_build_does_not_change() -> None:
    at = datetime(2026, 8, 1, 10, 8, 41, tzinfo=UTC)
    assert event_id_for("build.finished", "b1", "passed", at) == stable_id(
        "build.finished", "b1", "passed", "2026-08-01T10:08:41+00:00"
    )
