"""From one topic message to the rows it stands for. Pure: bytes in, :class:`Row` s out.

Each contract topic has one decoder. A decoder validates the value against the topic's
model in :mod:`schemas` and returns the rows to upsert, each tagged with the statement
(:class:`~services.store.statements.Statement`) that writes it; it raises
:class:`Poison` when the value is not JSON or does not match the model. What a row
means, and how two rows with the same primary key combine, is described in
:mod:`services.store.tables` and :mod:`services.store.statements`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import msgspec
import orjson
from pydantic import BaseModel, ValidationError

from schemas.alerts import Alert
from schemas.base import stable_id
from schemas.buildkite import BuildEvent, JobEvent, Pipeline
from schemas.flakiness import FlakinessState, TestRun
from schemas.operations import DeployEvent, IncidentEvent
from schemas.quarantine import QuarantineChange
from schemas.tests import TestResult
from services.dispatcher.records import DeliveryRecord
from services.store import durations, fastresult
from services.store.fastresult import Execution

__all__ = ["DECODERS", "INT32", "Decoder", "Poison", "Policy", "Row", "test_key"]


class Poison(Exception):
    """A value the store cannot read; ``kind`` names why (``json`` or ``schema``)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class Row(NamedTuple):
    """One row for statement ``statement`` (a name in ``services.store.statements``)."""

    statement: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Policy:
    """What decoders need beyond the message: which executions to keep, who owns a suite."""

    store_all_executions: bool = False
    service_of_suite: Callable[[str], str | None] = field(default=lambda _suite: None)


Decoder = Callable[[bytes | None, bytes | None, Policy], list[Row]]


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], raw: bytes | None) -> M:
    if raw is None:
        raise Poison("tombstone", "a record without a value")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        kind = "json" if errors and errors[0]["type"] == "json_invalid" else "schema"
        raise Poison(kind, str(exc).splitlines()[0] if kind == "json" else _first(exc)) from None


def _first(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{error['type']} at {where or 'the top'}: {error['msg']}"


def test_key(suite: str, scope: str, name: str, file: str | None) -> str:
    """``suite/scope/name[/file]``, the key flakiness uses (``services.flakiness``)."""
    base = f"{suite}/{scope}/{name}"
    return base if not file else f"{base}/{file}"


test_key.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _pipeline_row(pipeline: Pipeline, at: datetime) -> Row:
    return Row(
        "pipelines",
        {
            "slug": pipeline.slug,
            "pipeline_id": pipeline.id,
            "name": pipeline.name,
            "repository": pipeline.repository,
            "default_branch": pipeline.default_branch,
            "provider": pipeline.provider,
            "tags": list(pipeline.tags),
            "last_seen_at": at,
        },
    )


def decode_build(raw: bytes | None, _key: bytes | None, _policy: Policy) -> list[Row]:
    event = _parse(BuildEvent, raw)
    build = event.build
    person = build.author or build.creator
    row = {
        "id": build.id,
        "number": build.number,
        "pipeline": event.pipeline.slug,
        "branch": build.branch,
        "commit": build.commit,
        "state": build.state,
        "blocked": build.blocked,
        "message": build.message,
        "source": build.source,
        "author": None if person is None else (person.name or person.email),
        "url": build.web_url,
        "created_at": build.created_at,
        "scheduled_at": build.scheduled_at,
        "started_at": build.started_at,
        "finished_at": build.finished_at,
        "event": event.event,
        "event_id": event.event_id,
        "event_at": event.received_at,
    }
    return [_pipeline_row(event.pipeline, event.received_at), Row("builds", row)]


def decode_job(raw: bytes | None, _key: bytes | None, _policy: Policy) -> list[Row]:
    event = _parse(JobEvent, raw)
    job, ref = event.job, event.build
    source = job.retry_source
    row = {
        "id": job.id,
        "build_id": ref.id,
        "pipeline": event.pipeline.slug,
        "type": job.type,
        "step_key": job.step_key,
        "label": job.name,
        "state": job.state,
        "exit_status": job.exit_status,
        "soft_failed": job.soft_failed,
        "retried": job.retried,
        "retried_in_job_id": job.retried_in_job_id,
        "retries_count": job.retries_count,
        "retry_type": (source.retry_type if source else None) or job.retry_type,
        "retry_source_job_id": source.job_id if source else None,
        "parallel_group_index": job.parallel_group_index,
        "parallel_group_total": job.parallel_group_total,
        "agent": None if job.agent is None else (job.agent.name or job.agent.hostname),
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "url": job.web_url,
        "event": event.event,
        "event_id": event.event_id,
        "event_at": event.received_at,
    }
    build_ref = {
        "id": ref.id,
        "number": ref.number,
        "pipeline": event.pipeline.slug,
        "branch": ref.branch,
        "commit": ref.commit,
        "state": ref.state,
        "url": ref.web_url,
        "event": None,
        "event_id": "",  # weaker than any build event (see services.store.statements)
        "event_at": event.received_at,
    }
    return [
        _pipeline_row(event.pipeline, event.received_at),
        Row("jobs", row),
        Row("build_refs", build_ref),
    ]


def read_result(raw: bytes | None) -> fastresult.Read:
    """A ``tests.results`` value and its time; :class:`Poison` when it is not one (plain
    values are decoded without the model, see :mod:`.fastresult`)."""
    read = None if raw is None else fastresult.read(raw)
    if read is None:
        read = fastresult.from_model(_parse(TestResult, raw))
    low, high = INT32
    if not low <= read[0].attempt <= high:  # the model takes any int
        raise Poison("schema", f"attempt {read[0].attempt} does not fit a 32-bit integer column")
    return read


# What an Integer column takes on every database (32 bits on PostgreSQL), as
# test_results.attempt is; services.store.fits checks the other rows' columns with it.
INT32 = (-(2**31), 2**31 - 1)


def result_identity(result: Execution) -> tuple[str, dict[str, Any]]:
    """The test key of an execution, and its suite, scope, name and file."""
    test = result.test
    file = test.file_name or None
    key = test_key(result.suite, test.scope, test.name, file)
    return key, {"suite": result.suite, "scope": test.scope, "name": test.name, "file": file}


def result_kept(result: Execution, policy: Policy) -> bool:
    """Failed executions and passes on a retry are kept; every one when asked."""
    outcome = result.result
    return (
        outcome == "failed"
        or (outcome == "passed" and result.attempt > 1)
        or policy.store_all_executions
    )


def execution_row(
    result: Execution, at: datetime, key: str, identity: dict[str, Any]
) -> dict[str, Any]:
    env = result.run_env
    return {
        "event_id": result.event_id,
        "test_key": key,
        **identity,
        "result": result.result,
        "attempt": result.attempt,
        "duration_s": result.duration_s,
        "failure_reason": result.failure_reason,
        "failure_expanded": (
            [msgspec.to_builtins(d) for d in result.failure_expanded]
            if result.failure_expanded
            else []
        ),
        "upload_id": result.upload_id,
        "build_id": env.key,
        "build_number": env.number,
        "job_id": env.job_id,
        "commit": env.commit_sha,
        "branch": env.branch,
        "url": env.url,
        "at": at,
    }


def result_rows(result: Execution, at: datetime, policy: Policy) -> list[Row]:
    """The rows of one execution: its day rollup, its test's sighting and, when kept,
    the execution itself."""
    key, identity = result_identity(result)
    outcome, duration = result.result, result.duration_s
    failed = outcome == "failed"
    day: dict[str, Any] = {
        "test_key": key,
        "day": at.date(),
        **identity,
        "runs": 1,
        "passes": int(outcome == "passed"),
        "failures": int(failed),
        "skips": int(outcome == "skipped"),
        "flaky": 0,
        "duration_count": 0,
        "duration_sum_s": 0.0,
        "duration_hist": {},
    }
    if duration is not None:
        day["duration_count"] = 1
        day["duration_sum_s"] = duration
        durations.add(day["duration_hist"], duration)
    seen: dict[str, Any] = {
        "test_key": key,
        "kind": "test",
        **identity,
        "service": policy.service_of_suite(result.suite),
        "episodes": 0,
        "last_evidence": [],
        "first_seen_at": at,
        "last_seen_at": at,
        "last_failure_at": at if failed else None,
        "last_failure_reason": result.failure_reason if failed else None,
    }
    rows = [Row("test_days", day), Row("tests_seen", seen)]
    if result_kept(result, policy):
        rows.append(Row("test_results", execution_row(result, at, key, identity)))
    return rows


def decode_result(raw: bytes | None, _key: bytes | None, policy: Policy) -> list[Row]:
    return result_rows(*read_result(raw), policy)


def decode_state(raw: bytes | None, _key: bytes | None, policy: Policy) -> list[Row]:
    if raw is None:  # a compacted topic's tombstone: the test was forgotten upstream
        return []
    state = _parse(FlakinessState, raw)
    evidence = [e.model_dump(mode="json") for e in state.evidence]
    file = state.file_name or None
    row = {
        "test_key": state.key,
        "kind": state.kind,
        "suite": state.suite,
        "scope": state.scope,
        "name": state.name,
        "file": file,
        "pipeline": state.pipeline,
        "step_key": state.step_key,
        "service": None if state.suite is None else policy.service_of_suite(state.suite),
        "status": state.status,
        "flaky_since": state.since,
        "episodes": state.episodes,
        "window_runs": state.runs,
        "window_failures": state.failures,
        "window_flips": state.flips,
        "score": state.score,
        "last_evidence_at": state.last_evidence_at,
        "last_evidence": evidence,
        "state_updated_at": state.updated_at,
    }
    rows = [Row("tests_state", row)]
    if state.since is not None:
        recovered = state.updated_at if state.status == "stable" else None
        episode = {"test_key": state.key, "flagged_at": state.since, "recovered_at": recovered}
        rows.append(Row("flaky_episodes", episode))
    for item, dumped in zip(state.evidence, evidence, strict=True):
        rows.append(
            Row(
                "flaky_evidence",
                {
                    "id": stable_id(state.key, dumped),
                    "test_key": state.key,
                    "kind": item.kind,
                    "at": item.at,
                    "commit": item.commit,
                    "branch": item.branch,
                    "build_ids": list(item.build_ids),
                    "job_ids": list(item.job_ids),
                    "urls": list(item.urls),
                    "retry_type": item.retry_type,
                    "detail": item.detail,
                    # for the day rollup, dropped before the row is written
                    "_identity": (state.suite, state.scope or "", state.name, file)
                    if state.kind == "test" and state.suite and state.name
                    else None,
                },
            )
        )
    return rows


def decode_run(raw: bytes | None, _key: bytes | None, _policy: Policy) -> list[Row]:
    run = _parse(TestRun, raw)
    row = {
        "build_id": run.build_id,
        "suite": run.suite,
        "pipeline": run.pipeline,
        "build_number": run.build_number,
        "commit": run.commit,
        "branch": run.branch,
        "executions": run.executions,
        "failed_count": run.failed_count,
        "failed_tests": list(run.failed_tests),
        "known_flaky_failed": list(run.known_flaky_failed),
        "outage": run.outage,
        "event_id": run.event_id,
        "event_at": run.at,
    }
    return [Row("test_runs", row)]


def decode_deploy(raw: bytes | None, _key: bytes | None, _policy: Policy) -> list[Row]:
    deploy = _parse(DeployEvent, raw)
    row = {
        "deploy_id": deploy.deploy_id,
        "service": deploy.service,
        "environment": deploy.environment,
        "commit": deploy.commit,
        "state": deploy.state,
        "started_at": deploy.started_at,
        "finished_at": deploy.finished_at,
        "url": deploy.url,
        "source": deploy.source,
        "event_id": deploy.event_id,
        "event_at": deploy.received_at,
    }
    return [Row("deploys", row)]


def decode_incident(raw: bytes | None, _key: bytes | None, _policy: Policy) -> list[Row]:
    incident = _parse(IncidentEvent, raw)
    row = {
        "incident_id": incident.incident_id,
        "number": incident.number,
        "service": incident.service,
        "service_name": incident.service_name,
        "title": incident.title,
        "status": incident.status,
        "urgency": incident.urgency,
        "priority": incident.priority,
        "url": incident.url,
        "opened_at": incident.opened_at,
        "changed_at": incident.changed_at,
        "resolved_at": incident.resolved_at,
        "source": incident.source,
        "event": incident.event,
        "event_id": incident.event_id,
        "event_at": incident.received_at,
    }
    return [Row("incidents", row)]


def decode_alert(raw: bytes | None, key: bytes | None, _policy: Policy) -> list[Row]:
    alert = _parse(Alert, raw)
    row = {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "severity": alert.severity,
        "service": alert.service,
        "subject": None if key is None else key.decode("utf-8", "replace"),
        "created_at": alert.created_at,
        "summary": alert.summary,
        "body": orjson.loads(alert.to_json()),
    }
    return [Row("alerts", row)]


def decode_quarantine(raw: bytes | None, _key: bytes | None, _policy: Policy) -> list[Row]:
    if raw is None:  # a compacted topic's tombstone: nothing to add to the history
        return []
    change = _parse(QuarantineChange, raw)
    values = {
        "change_id": change.change_id,
        "test_key": change.key,
        "suite": change.suite,
        "scope": change.scope,
        "name": change.name,
        "file": change.file_name or None,
        "state": change.state,
        "reason": change.reason,
        "set_by": change.set_by,
        "source": change.source,
        "at": change.at,
        "until": change.until,
    }
    return [Row("quarantine", values), Row("quarantine_changes", dict(values))]


def decode_delivery(raw: bytes | None, _key: bytes | None, _policy: Policy) -> list[Row]:
    record = _parse(DeliveryRecord, raw)
    return [Row("deliveries", record.model_dump())]


# Unprefixed topic name -> its decoder. The delivery records' topic is internal
# (``kitestream.dispatcher-delivered``); the others are contract topics.
DECODERS: dict[str, Decoder] = {
    "buildkite.builds": decode_build,
    "buildkite.jobs": decode_job,
    "tests.results": decode_result,
    "flakiness.state": decode_state,
    "tests.runs": decode_run,
    "deploys": decode_deploy,
    "incidents": decode_incident,
    "alerts": decode_alert,
    "tests.quarantine": decode_quarantine,
    "kitestream.dispatcher-delivered": decode_delivery,
}
