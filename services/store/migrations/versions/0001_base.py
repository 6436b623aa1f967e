"""base: every table of services.store.tables

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen copies of the column types of services.store.tables at this revision.
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("service", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alerts")),
    )
    op.create_index(
        op.f("ix_alerts_created_at_alert_id"), "alerts", ["created_at", "alert_id"], unique=False
    )
    op.create_index(
        op.f("ix_alerts_kind_created_at"), "alerts", ["kind", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_alerts_service_created_at"), "alerts", ["service", "created_at"], unique=False
    )

    op.create_table(
        "builds",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("branch", sa.String(), nullable=True),
        sa.Column("commit", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("author", sa.String(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=True),
        sa.Column("scheduled_at", TIMESTAMP, nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("event", sa.String(), nullable=True),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builds")),
    )
    op.create_index(op.f("ix_builds_commit"), "builds", ["commit"], unique=False)
    op.create_index(op.f("ix_builds_created_at"), "builds", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_builds_pipeline_branch_created_at"),
        "builds",
        ["pipeline", "branch", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_builds_pipeline_created_at_id"),
        "builds",
        ["pipeline", "created_at", "id"],
        unique=False,
    )

    op.create_table(
        "deliveries",
        sa.Column("alert_id", sa.String(), nullable=False),
        sa.Column("sink", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "sink", name=op.f("pk_deliveries")),
    )
    op.create_index(op.f("ix_deliveries_at"), "deliveries", ["at"], unique=False)

    op.create_table(
        "deploys",
        sa.Column("deploy_id", sa.String(), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("commit", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("deploy_id", name=op.f("pk_deploys")),
    )
    op.create_index(op.f("ix_deploys_event_at"), "deploys", ["event_at"], unique=False)
    op.create_index(
        op.f("ix_deploys_service_started_at"), "deploys", ["service", "started_at"], unique=False
    )
    op.create_index(op.f("ix_deploys_started_at"), "deploys", ["started_at"], unique=False)

    op.create_table(
        "flaky_episodes",
        sa.Column("test_key", sa.String(), nullable=False),
        sa.Column("flagged_at", TIMESTAMP, nullable=False),
        sa.Column("recovered_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("test_key", "flagged_at", name=op.f("pk_flaky_episodes")),
    )
    op.create_index(
        op.f("ix_flaky_episodes_flagged_at"), "flaky_episodes", ["flagged_at"], unique=False
    )

    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("service_name", sa.String(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("urgency", sa.String(), nullable=True),
        sa.Column("priority", sa.String(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=True),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_opened_at"), "incidents", ["opened_at"], unique=False)
    op.create_index(
        op.f("ix_incidents_service_opened_at"), "incidents", ["service", "opened_at"], unique=False
    )

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("build_id", sa.String(), nullable=False),
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=True),
        sa.Column("step_key", sa.String(), nullable=True),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.Column("exit_status", sa.Integer(), nullable=True),
        sa.Column("soft_failed", sa.Boolean(), nullable=True),
        sa.Column("retried", sa.Boolean(), nullable=True),
        sa.Column("retried_in_job_id", sa.String(), nullable=True),
        sa.Column("retries_count", sa.Integer(), nullable=True),
        sa.Column("retry_type", sa.String(), nullable=True),
        sa.Column("retry_source_job_id", sa.String(), nullable=True),
        sa.Column("parallel_group_index", sa.Integer(), nullable=True),
        sa.Column("parallel_group_total", sa.Integer(), nullable=True),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("event", sa.String(), nullable=True),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_build_id"), "jobs", ["build_id"], unique=False)
    op.create_index(op.f("ix_jobs_event_at"), "jobs", ["event_at"], unique=False)
    op.create_index(
        op.f("ix_jobs_pipeline_step_key_finished_at"),
        "jobs",
        ["pipeline", "step_key", "finished_at"],
        unique=False,
    )

    op.create_table(
        "pipelines",
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("pipeline_id", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("repository", sa.String(), nullable=True),
        sa.Column("default_branch", sa.String(), nullable=True),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_pipelines")),
    )
    op.create_table(
        "store_offsets",
        sa.Column("group_id", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", name=op.f("pk_store_offsets")),
    )
    op.create_table(
        "test_days",
        sa.Column("test_key", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("suite", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("skips", sa.Integer(), nullable=False),
        sa.Column("flaky", sa.Integer(), nullable=False),
        sa.Column("duration_count", sa.Integer(), nullable=False),
        sa.Column("duration_sum_s", sa.Float(), nullable=False),
        sa.Column("duration_hist", JSON, nullable=False),
        sa.Column("duration_p50_s", sa.Float(), nullable=True),
        sa.Column("duration_p95_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("test_key", "day", name=op.f("pk_test_days")),
    )
    op.create_index(op.f("ix_test_days_day"), "test_days", ["day"], unique=False)
    op.create_index(op.f("ix_test_days_suite_day"), "test_days", ["suite", "day"], unique=False)

    op.create_table(
        "test_results",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("test_key", sa.String(), nullable=False),
        sa.Column("suite", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=True),
        sa.Column("result", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("failure_expanded", JSON, nullable=False),
        sa.Column("upload_id", sa.String(), nullable=False),
        sa.Column("build_id", sa.String(), nullable=True),
        sa.Column("build_number", sa.String(), nullable=True),
        sa.Column("job_id", sa.String(), nullable=True),
        sa.Column("commit", sa.String(), nullable=True),
        sa.Column("branch", sa.String(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_test_results")),
    )
    op.create_index(op.f("ix_test_results_at"), "test_results", ["at"], unique=False)
    op.create_index(op.f("ix_test_results_build_id"), "test_results", ["build_id"], unique=False)
    op.create_index(
        op.f("ix_test_results_test_key_at"), "test_results", ["test_key", "at"], unique=False
    )

    op.create_table(
        "test_runs",
        sa.Column("build_id", sa.String(), nullable=False),
        sa.Column("suite", sa.String(), nullable=False),
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("build_number", sa.String(), nullable=True),
        sa.Column("commit", sa.String(), nullable=True),
        sa.Column("branch", sa.String(), nullable=True),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("failed_tests", JSON, nullable=False),
        sa.Column("known_flaky_failed", JSON, nullable=False),
        sa.Column("outage", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("build_id", "suite", name=op.f("pk_test_runs")),
    )
    op.create_index(
        op.f("ix_test_runs_pipeline_event_at"), "test_runs", ["pipeline", "event_at"], unique=False
    )

    op.create_table(
        "tests",
        sa.Column("test_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("suite", sa.String(), nullable=True),
        sa.Column("scope", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("file", sa.String(), nullable=True),
        sa.Column("pipeline", sa.String(), nullable=True),
        sa.Column("step_key", sa.String(), nullable=True),
        sa.Column("service", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("flaky_since", TIMESTAMP, nullable=True),
        sa.Column("episodes", sa.Integer(), nullable=False),
        sa.Column("window_runs", sa.Integer(), nullable=True),
        sa.Column("window_failures", sa.Integer(), nullable=True),
        sa.Column("window_flips", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("first_seen_at", TIMESTAMP, nullable=True),
        sa.Column("last_seen_at", TIMESTAMP, nullable=True),
        sa.Column("last_failure_at", TIMESTAMP, nullable=True),
        sa.Column("last_failure_reason", sa.Text(), nullable=True),
        sa.Column("last_evidence_at", TIMESTAMP, nullable=True),
        sa.Column("last_evidence", JSON, nullable=False),
        sa.Column("state_updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("test_key", name=op.f("pk_tests")),
    )
    op.create_index(op.f("ix_tests_service"), "tests", ["service"], unique=False)
    op.create_index(
        op.f("ix_tests_status_flaky_since"), "tests", ["status", "flaky_since"], unique=False
    )
    op.create_index(op.f("ix_tests_suite_name"), "tests", ["suite", "name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tests_suite_name"), table_name="tests")
    op.drop_index(op.f("ix_tests_status_flaky_since"), table_name="tests")
    op.drop_index(op.f("ix_tests_service"), table_name="tests")

    op.drop_table("tests")
    op.drop_index(op.f("ix_test_runs_pipeline_event_at"), table_name="test_runs")

    op.drop_table("test_runs")
    op.drop_index(op.f("ix_test_results_test_key_at"), table_name="test_results")
    op.drop_index(op.f("ix_test_results_build_id"), table_name="test_results")
    op.drop_index(op.f("ix_test_results_at"), table_name="test_results")

    op.drop_table("test_results")
    op.drop_index(op.f("ix_test_days_suite_day"), table_name="test_days")
    op.drop_index(op.f("ix_test_days_day"), table_name="test_days")

    op.drop_table("test_days")
    op.drop_table("store_offsets")
    op.drop_table("pipelines")
    op.drop_index(op.f("ix_jobs_pipeline_step_key_finished_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_event_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_build_id"), table_name="jobs")

    op.drop_table("jobs")
    op.drop_index(op.f("ix_incidents_service_opened_at"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_opened_at"), table_name="incidents")

    op.drop_table("incidents")

    op.drop_index(op.f("ix_flaky_episodes_flagged_at"), table_name="flaky_episodes")

    op.drop_table("flaky_episodes")
    op.drop_index(op.f("ix_deploys_started_at"), table_name="deploys")
    op.drop_index(op.f("ix_deploys_service_started_at"), table_name="deploys")
    op.drop_index(op.f("ix_deploys_event_at"), table_name="deploys")

    op.drop_table("deploys")
    op.drop_index(op.f("ix_deliveries_at"), table_name="deliveries")

    op.drop_table("deliveries")
    op.drop_index(op.f("ix_builds_pipeline_created_at_id"), table_name="builds")
    op.drop_index(op.f("ix_builds_pipeline_branch_created_at"), table_name="builds")
    op.drop_index(op.f("ix_builds_created_at"), table_name="builds")
    op.drop_index(op.f("ix_builds_commit"), table_name="builds")

    op.drop_table("builds")
    op.drop_index(op.f("ix_alerts_service_created_at"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_kind_created_at"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_created_at_alert_id"), table_name="alerts")

    op.drop_table("alerts")
