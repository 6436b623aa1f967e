"""Cursors: opaque, bound to their list and filters, and a keyset that visits every row once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from services.api import cursor
from services.api.cursor import Key, Order
from services.api.errors import BadRequest
from services.api.pages import page
from services.api.params import Query
from services.store.tables import alerts
from tests.unit.api.rows import T0, add_alert, store_engine


def test_a_cursor_round_trips_times_dates_and_plain_values() -> None:
    values: list[cursor.Value] = [T0, date(2026, 8, 1), "k/ey#1", 3, 0.25, None, True]
    token = cursor.encode("scope", values)
    assert token.isascii()
    assert not set(token) & set("=/+")
    assert cursor.decode("scope", token) == values


def test_a_cursor_of_other_filters_is_refused() -> None:
    token = cursor.encode(cursor.scope_of("alerts", {"kind": "flaky_test"}), [T0, "a"])
    with pytest.raises(BadRequest, match="other filters"):
        cursor.decode(cursor.scope_of("alerts", {"kind": "flaky_test_recovered"}), token)


@pytest.mark.parametrize("garbage", ["", "%%%", "bm90IGpzb24", "eyJzIjoxfQ", "W10"])
def test_garbage_is_not_a_cursor(garbage: str) -> None:
    with pytest.raises(BadRequest, match="not a cursor"):
        cursor.decode("scope", garbage)


def test_a_cursor_with_a_wrong_number_of_values_is_refused() -> None:
    order = Order(Key(alerts.c.created_at), Key(alerts.c.alert_id))
    with pytest.raises(BadRequest):
        order.after([T0])


@settings(max_examples=25)
@given(
    minutes=st.lists(st.integers(0, 5), min_size=0, max_size=40),
    limit=st.integers(1, 7),
)
def test_paging_visits_every_row_exactly_once_in_order(
    tmp_path_factory: pytest.TempPathFactory, minutes: list[int], limit: int
) -> None:
    # Many rows share a created_at: the alert_id tie-break must keep each in one place.
    engine = store_engine(str(tmp_path_factory.mktemp("db") / "store.db"), migrate=False)
    with engine.begin() as conn:
        for i, minute in enumerate(minutes):
            add_alert(conn, f"a{i:03d}", created_at=T0 + timedelta(minutes=minute))
    order = Order(
        Key(alerts.c.created_at, descending=True), Key(alerts.c.alert_id, descending=True)
    )
    seen: list[str] = []
    after: str | None = None
    with engine.connect() as conn:
        for _ in range(len(minutes) + 2):
            params = {"limit": str(limit), **({"cursor": after} if after else {})}
            got = page(
                conn,
                sa.select(alerts.c.alert_id),
                order,
                Query(params, strict=False),
                "alerts",
            )
            seen += [item["alert_id"] for item in got["items"]]
            after = got["next"]
            if after is None:
                break
    engine.dispose()
    expected = sorted(
        (f"a{i:03d}" for i in range(len(minutes))),
        key=lambda a: (minutes[int(a[1:])], a),
        reverse=True,
    )
    assert seen == expected
