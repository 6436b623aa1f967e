"""quarantine, quarantine_changes: tests.quarantine's current state per test and history

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _change_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("suite", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("until", TIMESTAMP, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("test_key", sa.String(), nullable=False),
        sa.Column("change_id", sa.String(), nullable=False),
        *_change_columns(),
        sa.PrimaryKeyConstraint("test_key", name=op.f("pk_quarantine")),
    )
    op.create_index(
        op.f("ix_quarantine_suite_state"), "quarantine", ["suite", "state"], unique=False
    )
    op.create_table(
        "quarantine_changes",
        sa.Column("change_id", sa.String(), nullable=False),
        sa.Column("test_key", sa.String(), nullable=False),
        *_change_columns(),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_quarantine_changes")),
    )
    op.create_index(
        op.f("ix_quarantine_changes_test_key_at"),
        "quarantine_changes",
        ["test_key", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quarantine_changes_test_key_at"), table_name="quarantine_changes")
    op.drop_table("quarantine_changes")
    op.drop_index(op.f("ix_quarantine_suite_state"), table_name="quarantine")
    op.drop_table("quarantine")
