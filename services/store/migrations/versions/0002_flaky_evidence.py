"""flaky_evidence: every piece of flaky evidence, once, with its Buildkite links

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flaky_evidence",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("test_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("commit", sa.String(), nullable=True),
        sa.Column("branch", sa.String(), nullable=True),
        sa.Column("build_ids", JSON, nullable=False),
        sa.Column("job_ids", JSON, nullable=False),
        sa.Column("urls", JSON, nullable=False),
        sa.Column("retry_type", sa.String(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flaky_evidence")),
    )
    op.create_index(op.f("ix_flaky_evidence_at"), "flaky_evidence", ["at"], unique=False)
    op.create_index(
        op.f("ix_flaky_evidence_test_key_at"), "flaky_evidence", ["test_key", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_flaky_evidence_test_key_at"), table_name="flaky_evidence")
    op.drop_index(op.f("ix_flaky_evidence_at"), table_name="flaky_evidence")
    op.drop_table("flaky_evidence")
