"""The store's schema: what ``kitestream store`` writes and ``kitestream api`` reads.

SQLAlchemy Core tables on one :data:`metadata`; the same definitions run on SQLite (the
embedded default) and PostgreSQL. Alembic migrations under ``services/store/migrations``
create them; this module is what those migrations must match (a test compares them).

Conventions, the same in every table:

- Primary keys are natural ids taken from the messages (``event_id``, build id, job id,
  ``alert_id``, test key + day, ...), so writing a record twice changes nothing: every
  write is an upsert (``insert ... on conflict do update``), and the consumed offsets are
  stored in the same transaction as the rows (:data:`store_offsets`).
- Times are :class:`UtcTimestamp`: timezone-aware UTC in Python on both databases
  (``timestamptz`` on PostgreSQL; ISO text on SQLite, which sorts correctly because
  every value is UTC). Days (``test_days.day``) are UTC dates.
- JSON columns hold lists or objects as sent (``JSONB`` on PostgreSQL).
- No foreign keys: topics arrive out of order (a job before its build), and rows of
  different topics are pruned on different schedules.
- A row that keeps "the latest state" of something (builds, jobs, deploys, incidents,
  tests, test runs) carries the time of the message it came from (``event_at``);
  an older message arriving later fills only the columns the row still lacks.

Tables:

``pipelines``
    One row per pipeline slug seen on ``buildkite.builds``/``buildkite.jobs``: name,
    repository, default branch, tags (the catalog maps services to pipelines by these).
``builds``
    Latest state per Buildkite build (``id`` = build UUID) from ``buildkite.builds``,
    and from ``buildkite.jobs`` for builds whose build events have not arrived
    (``number``, ``branch``, ``commit``, ``url`` from the job's build reference).
``jobs``
    Latest state per job (``id`` = job UUID) from ``buildkite.jobs``: step key, label
    (the job's ``name``), state, exit status, retry fields (``retried``,
    ``retried_in_job_id``, ``retry_type`` and ``retry_source_job_id`` from
    ``retry_source`` or the older flat fields).
``test_results``
    Individual test executions (``event_id`` of ``tests.results``) kept per policy:
    failed executions, and passes on a retry (``attempt`` > 1, flaky evidence), for
    ``KITESTREAM_STORE_RESULTS_DAYS``; every execution only when
    ``KITESTREAM_STORE_ALL_EXECUTIONS`` is set. ``build_id``/``job_id``/``commit``/
    ``branch``/``url`` come from the collector's ``run_env``.
``test_days``
    Per test key and UTC day: runs, passes, failures, skips, flaky evidence count and
    durations, kept for ``KITESTREAM_STORE_ROLLUP_DAYS``. Durations are kept mergeable
    as a fixed log-scale histogram (``duration_hist``: a sparse JSON object
    ``{"bucket index": count}``, bucket ``i`` holding durations up to
    ``DURATION_BUCKETS[i]`` seconds, index ``len(DURATION_BUCKETS)`` the rest);
    ``duration_p50_s`` and ``duration_p95_s`` are computed from it at every write so
    that readers need not.
    Histograms of several days add up bucket by bucket (see
    :mod:`services.store.durations`).
``tests``
    One row per test key (and per step key, ``kind = 'step'``) from ``flakiness.state``
    and ``tests.results``: identity, the service owning its suite (from the catalog,
    when one is configured), the current flaky status and since when, the current
    window's numbers, the last failure and the last evidence (JSON list of
    ``schemas.flakiness.Evidence``).
``flaky_evidence``
    Every piece of flaky evidence seen on ``flakiness.state``, once (``id`` is a stable
    hash of its content), with its Buildkite links: a test's evidence history.
``flaky_episodes``
    One row per time a test was flagged (``test_key`` + ``flagged_at``), with
    ``recovered_at`` once it cleared.
``test_runs``
    Latest ``tests.runs`` summary per (``build_id``, ``suite``).
``deploys``
    Latest state per ``deploy_id`` from ``deploys``.
``incidents``
    Latest state per ``incident_id`` from ``incidents``.
``alerts``
    Every alert by ``alert_id`` (the Kafka key as ``subject``), with the full alert JSON
    under ``body``.
``deliveries``
    The dispatcher's delivery records (``kitestream.dispatcher-delivered``), one per
    (``alert_id``, ``sink``).
``quarantine``
    The latest ``tests.quarantine`` change per test key (muted, skipped or active, who,
    why, ``until``); readers compare ``until`` with the time now, a lapsed row is active.
``quarantine_changes``
    Every ``tests.quarantine`` change, once (by ``change_id``): a test's quarantine
    history.
``store_offsets``
    The next offset to read per (consumer group, topic, partition), written in the same
    transaction as the rows it covers; the store seeks to it on assignment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

__all__ = [
    "DURATION_BUCKETS",
    "JsonColumn",
    "UtcTimestamp",
    "alerts",
    "builds",
    "deliveries",
    "deploys",
    "flaky_episodes",
    "flaky_evidence",
    "incidents",
    "jobs",
    "metadata",
    "pipelines",
    "quarantine",
    "quarantine_changes",
    "store_offsets",
    "test_days",
    "test_results",
    "test_runs",
    "tests",
]

# Upper bounds (seconds) of the duration histogram's buckets, a factor of about 1.5 apart
# from 1 ms to about 2 h; one more bucket holds everything longer. Never reorder or
# change these: stored histograms are counts against them.
DURATION_BUCKETS: tuple[float, ...] = tuple(round(0.001 * 1.5**i, 6) for i in range(40))


class UtcTimestamp(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` in Python, whatever the database keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite keeps text; naive UTC text sorts and compares correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON on SQLite, JSONB on PostgreSQL.
JsonColumn: sa.types.TypeEngine[Any] = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _event_columns() -> list[sa.Column[Any]]:
    """Which message a latest-state row was last written from."""
    return [
        sa.Column("event_id", sa.String, nullable=False),
        sa.Column("event_at", UtcTimestamp, nullable=False),
    ]


pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("slug", sa.String, primary_key=True),
    sa.Column("pipeline_id", sa.String),
    sa.Column("name", sa.String),
    sa.Column("repository", sa.String),
    sa.Column("default_branch", sa.String),
    sa.Column("provider", sa.String),
    sa.Column("tags", JsonColumn, nullable=False),
    sa.Column("last_seen_at", UtcTimestamp, nullable=False),
)

builds = sa.Table(
    "builds",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("number", sa.Integer),
    sa.Column("pipeline", sa.String, nullable=False),
    sa.Column("branch", sa.String),
    sa.Column("commit", sa.String),
    sa.Column("state", sa.String),
    sa.Column("blocked", sa.Boolean),
    sa.Column("message", sa.Text),
    sa.Column("source", sa.String),
    sa.Column("author", sa.String),
    sa.Column("url", sa.String),
    sa.Column("created_at", UtcTimestamp),
    sa.Column("scheduled_at", UtcTimestamp),
    sa.Column("started_at", UtcTimestamp),
    sa.Column("finished_at", UtcTimestamp),
    sa.Column("event", sa.String),  # the webhook event name of the latest message
    *_event_columns(),
    sa.Index(None, "pipeline", "created_at", "id"),
    sa.Index(None, "pipeline", "branch", "created_at"),
    sa.Index(None, "created_at"),
    sa.Index(None, "commit"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("build_id", sa.String, nullable=False),
    sa.Column("pipeline", sa.String, nullable=False),
    sa.Column("type", sa.String),
    sa.Column("step_key", sa.String),
    sa.Column("label", sa.String),
    sa.Column("state", sa.String),
    sa.Column("exit_status", sa.Integer),
    sa.Column("soft_failed", sa.Boolean),
    sa.Column("retried", sa.Boolean),
    sa.Column("retried_in_job_id", sa.String),
    sa.Column("retries_count", sa.Integer),
    sa.Column("retry_type", sa.String),
    sa.Column("retry_source_job_id", sa.String),
    sa.Column("parallel_group_index", sa.Integer),
    sa.Column("parallel_group_total", sa.Integer),
    sa.Column("agent", sa.String),
    sa.Column("started_at", UtcTimestamp),
    sa.Column("finished_at", UtcTimestamp),
    sa.Column("url", sa.String),
    sa.Column("event", sa.String),
    *_event_columns(),
    sa.Index(None, "build_id"),
    sa.Index(None, "pipeline", "step_key", "finished_at"),
    sa.Index(None, "event_at"),
)

test_results = sa.Table(
    "test_results",
    metadata,
    sa.Column("event_id", sa.String, primary_key=True),
    sa.Column("test_key", sa.String, nullable=False),
    sa.Column("suite", sa.String, nullable=False),
    sa.Column("scope", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("file", sa.String),
    sa.Column("result", sa.String, nullable=False),  # passed | failed | skipped | unknown
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("duration_s", sa.Float),
    sa.Column("failure_reason", sa.Text),
    sa.Column("failure_expanded", JsonColumn, nullable=False),
    sa.Column("upload_id", sa.String, nullable=False),
    sa.Column("build_id", sa.String),  # run_env.key
    sa.Column("build_number", sa.String),
    sa.Column("job_id", sa.String),
    sa.Column("commit", sa.String),
    sa.Column("branch", sa.String),
    sa.Column("url", sa.String),
    sa.Column("at", UtcTimestamp, nullable=False),  # received_at
    sa.Index(None, "test_key", "at"),
    sa.Index(None, "build_id"),
    sa.Index(None, "at"),
)

test_days = sa.Table(
    "test_days",
    metadata,
    sa.Column("test_key", sa.String, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("suite", sa.String, nullable=False),
    sa.Column("scope", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("file", sa.String),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("passes", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("skips", sa.Integer, nullable=False),
    sa.Column("flaky", sa.Integer, nullable=False),  # pieces of flaky evidence that day
    sa.Column("duration_count", sa.Integer, nullable=False),
    sa.Column("duration_sum_s", sa.Float, nullable=False),
    sa.Column("duration_hist", JsonColumn, nullable=False),
    sa.Column("duration_p50_s", sa.Float),
    sa.Column("duration_p95_s", sa.Float),
    sa.Index(None, "day"),
    sa.Index(None, "suite", "day"),
)

tests = sa.Table(
    "tests",
    metadata,
    sa.Column("test_key", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),  # test | step
    sa.Column("suite", sa.String),
    sa.Column("scope", sa.String),
    sa.Column("name", sa.String),
    sa.Column("file", sa.String),
    sa.Column("pipeline", sa.String),  # steps
    sa.Column("step_key", sa.String),  # steps
    sa.Column("service", sa.String),
    sa.Column("status", sa.String),  # flaky | stable | NULL (no flakiness.state yet)
    sa.Column("flaky_since", UtcTimestamp),
    sa.Column("episodes", sa.Integer, nullable=False),
    sa.Column("window_runs", sa.Integer),
    sa.Column("window_failures", sa.Integer),
    sa.Column("window_flips", sa.Integer),
    sa.Column("score", sa.Float),
    sa.Column("first_seen_at", UtcTimestamp),
    sa.Column("last_seen_at", UtcTimestamp),
    sa.Column("last_failure_at", UtcTimestamp),
    sa.Column("last_failure_reason", sa.Text),
    sa.Column("last_evidence_at", UtcTimestamp),
    sa.Column("last_evidence", JsonColumn, nullable=False),
    sa.Column("state_updated_at", UtcTimestamp),  # flakiness.state updated_at
    sa.Index(None, "suite", "name"),
    sa.Index(None, "status", "flaky_since"),
    sa.Index(None, "service"),
)

flaky_evidence = sa.Table(
    "flaky_evidence",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("test_key", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),  # same_commit | transition_rate | job_retry
    sa.Column("at", UtcTimestamp, nullable=False),
    sa.Column("commit", sa.String),
    sa.Column("branch", sa.String),
    sa.Column("build_ids", JsonColumn, nullable=False),
    sa.Column("job_ids", JsonColumn, nullable=False),
    sa.Column("urls", JsonColumn, nullable=False),
    sa.Column("retry_type", sa.String),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index(None, "test_key", "at"),
    sa.Index(None, "at"),
)

flaky_episodes = sa.Table(
    "flaky_episodes",
    metadata,
    sa.Column("test_key", sa.String, primary_key=True),
    sa.Column("flagged_at", UtcTimestamp, primary_key=True),
    sa.Column("recovered_at", UtcTimestamp),
    sa.Index(None, "flagged_at"),
)

test_runs = sa.Table(
    "test_runs",
    metadata,
    sa.Column("build_id", sa.String, primary_key=True),
    sa.Column("suite", sa.String, primary_key=True),
    sa.Column("pipeline", sa.String, nullable=False),
    sa.Column("build_number", sa.String),
    sa.Column("commit", sa.String),
    sa.Column("branch", sa.String),
    sa.Column("executions", sa.Integer, nullable=False),
    sa.Column("failed_count", sa.Integer, nullable=False),
    sa.Column("failed_tests", JsonColumn, nullable=False),
    sa.Column("known_flaky_failed", JsonColumn, nullable=False),
    sa.Column("outage", sa.Boolean, nullable=False),
    *_event_columns(),  # event_at = the summary's ``at``
    sa.Index(None, "pipeline", "event_at"),
)

deploys = sa.Table(
    "deploys",
    metadata,
    sa.Column("deploy_id", sa.String, primary_key=True),
    sa.Column("service", sa.String, nullable=False),
    sa.Column("environment", sa.String, nullable=False),
    sa.Column("commit", sa.String),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("started_at", UtcTimestamp),
    sa.Column("finished_at", UtcTimestamp),
    sa.Column("url", sa.String),
    sa.Column("source", sa.String, nullable=False),
    *_event_columns(),  # event_at = received_at
    sa.Index(None, "service", "started_at"),
    sa.Index(None, "started_at"),
    sa.Index(None, "event_at"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("incident_id", sa.String, primary_key=True),
    sa.Column("number", sa.Integer),
    sa.Column("service", sa.String, nullable=False),
    sa.Column("service_name", sa.String),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String, nullable=False),  # triggered | acknowledged | resolved
    sa.Column("urgency", sa.String),
    sa.Column("priority", sa.String),
    sa.Column("url", sa.String),
    sa.Column("opened_at", UtcTimestamp, nullable=False),
    sa.Column("changed_at", UtcTimestamp),
    sa.Column("resolved_at", UtcTimestamp),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("event", sa.String),
    *_event_columns(),  # event_at = changed_at, else received_at
    sa.Index(None, "service", "opened_at"),
    sa.Index(None, "opened_at"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("severity", sa.String, nullable=False),
    sa.Column("service", sa.String),
    sa.Column("subject", sa.String),  # the Kafka key: service, or test key
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("body", JsonColumn, nullable=False),  # the whole alert, as on the topic
    sa.Index(None, "created_at", "alert_id"),
    sa.Index(None, "service", "created_at"),
    sa.Index(None, "kind", "created_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("alert_id", sa.String, primary_key=True),
    sa.Column("sink", sa.String, primary_key=True),
    sa.Column("outcome", sa.String, nullable=False),  # delivered | skipped | dead_lettered
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("at", UtcTimestamp, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("subject", sa.String),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index(None, "at"),
)


def _quarantine_columns() -> list[sa.Column[Any]]:
    """A ``tests.quarantine`` change (``schemas.quarantine.QuarantineChange``)."""
    return [
        sa.Column("suite", sa.String, nullable=False),
        sa.Column("scope", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("file", sa.String),
        sa.Column("state", sa.String, nullable=False),  # active | muted | skipped
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_by", sa.String, nullable=False),
        sa.Column("source", sa.String, nullable=False),  # manual | policy
        sa.Column("at", UtcTimestamp, nullable=False),
        sa.Column("until", UtcTimestamp),
    ]


quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("test_key", sa.String, primary_key=True),
    sa.Column("change_id", sa.String, nullable=False),
    *_quarantine_columns(),
    sa.Index(None, "suite", "state"),
)

quarantine_changes = sa.Table(
    "quarantine_changes",
    metadata,
    sa.Column("change_id", sa.String, primary_key=True),
    sa.Column("test_key", sa.String, nullable=False),
    *_quarantine_columns(),
    sa.Index(None, "test_key", "at"),
)

store_offsets = sa.Table(
    "store_offsets",
    metadata,
    sa.Column("group_id", sa.String, primary_key=True),
    sa.Column("topic", sa.String, primary_key=True),  # the full (prefixed) topic name
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
)
