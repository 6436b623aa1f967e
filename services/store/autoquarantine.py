"""The store's auto-quarantine step (``KITESTREAM_AUTO_QUARANTINE=N``, hours).

Every ``KITESTREAM_STORE_AUTO_QUARANTINE_INTERVAL_S`` the store reads the tests flagged
flaky for more than N hours, and the tests the policy muted, with their quarantine
rows; :func:`services.quarantine.policy.decide` says what changes; the store publishes
those changes on ``tests.quarantine`` and reads them back like any other. It runs in
the store because the store holds both the flags (``flakiness.state``) and the
quarantine state; a change published twice (two instances) is the same change.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas.quarantine import QuarantineChange
from services.quarantine.policy import AutoQuarantine, Flag, decide
from services.quarantine.state import TestIdentity, change_from_row
from services.store.tables import quarantine, tests

__all__ = ["due_changes"]


def due_changes(engine: Engine, policy: AutoQuarantine, now: datetime) -> list[QuarantineChange]:
    """The changes the policy makes at ``now``, from the store's tables."""
    t, q = tests.c, quarantine.c
    policy_muted = sa.select(q.test_key).where(q.source == "policy", q.state == "muted")
    select = (
        sa.select(
            *(c.label(f"t_{c.name}") for c in (t.suite, t.scope, t.name, t.file)),
            t.status,
            t.flaky_since,
            t.state_updated_at,
            quarantine,
        )
        .select_from(tests.outerjoin(quarantine, q.test_key == t.test_key))
        .where(
            t.kind == "test",
            t.suite.is_not(None),
            t.name.is_not(None),
            sa.or_(
                sa.and_(t.status == "flaky", t.flaky_since <= now - policy.after),
                t.test_key.in_(policy_muted),
            ),
        )
        .order_by(t.test_key)
    )
    changes: list[QuarantineChange] = []
    with engine.connect() as conn:
        for row in conn.execute(select).mappings():
            identity = TestIdentity(
                row["t_suite"], row["t_scope"] or "", row["t_name"], row["t_file"] or None
            )
            current = None if row["change_id"] is None else change_from_row(row)
            flag = Flag(identity, row["status"] or "stable", row["flaky_since"],
                        row["state_updated_at"])  # fmt: skip
            change = decide(flag, current, policy, now)
            if change is not None:
                changes.append(change)
    return changes
