"""The published messages: ``flakiness.state``, ``alerts`` and ``tests.runs``.

Every field is derived from the tracker's state and the event time of the execution
that caused the change, never from the wall clock, so that reprocessing after a crash
produces byte-identical messages with the same ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.alerts import Alert
from schemas.base import stable_id
from schemas.flakiness import Evidence, FlakinessState, TestRun
from services.flakiness.execution import Subject, TestSubject
from services.flakiness.runs import Run
from services.flakiness.segments import JsonByIdentity
from services.flakiness.settings import FlakinessSettings
from services.flakiness.tracker import Alerted, Entry

__all__ = ["alert", "alert_id", "state", "state_json", "test_run"]

_UTC_Z = orjson.OPT_UTC_Z
_fragment = orjson.Fragment


def _utc(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC)


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _identity(subject: Subject) -> dict[str, Any]:
    if isinstance(subject, TestSubject):
        return {
            "suite": subject.suite,
            "scope": subject.scope,
            "name": subject.name,
            "file_name": subject.file,
        }
    return {"pipeline": subject.pipeline, "step_key": subject.step_key}


def state(entry: Entry, at: float) -> FlakinessState:
    """The subject's current window summary and status."""
    summary = entry.summary()
    meta = entry.meta
    return FlakinessState(
        key=entry.subject.key,
        kind=entry.subject.kind,
        **_identity(entry.subject),
        runs=summary.runs,
        failures=summary.failures,
        flips=summary.flips,
        score=summary.score,
        status="flaky" if entry.flaky else "stable",
        episodes=meta.episodes if meta else 0,
        since=_utc(meta.since) if meta else None,
        last_evidence_at=_utc(meta.last_evidence_at) if meta else None,
        evidence=list(meta.evidence) if meta else [],
        updated_at=_utc(at),
    )


def state_json(entry: Entry, at: float) -> bytes:
    """``state(entry, at).to_json()``, the same bytes, written straight from the entry
    without making, validating and dumping the model: about 33,000 instructions a state
    instead of 100,000. Most states are of subjects with no status (one per new test);
    a flagged test's is published at each of its executions, its evidence (frozen
    models) written once each (:class:`~services.flakiness.segments.JsonByIdentity`).
    ``tests/unit/flakiness/test_messages.py`` holds the two to the same bytes."""
    subject = entry.subject
    summary = entry.summary()
    if isinstance(subject, TestSubject):
        kind, suite, scope, name, file_name = "test", *subject
        pipeline = step_key = None
    else:
        kind, suite, scope, name, file_name = "step", None, None, None, None
        pipeline, step_key = subject
    meta = entry.meta
    return orjson.dumps(
        {
            "key": subject.key,
            "kind": kind,
            "suite": suite,
            "scope": scope,
            "name": name,
            "file_name": file_name,
            "pipeline": pipeline,
            "step_key": step_key,
            "runs": summary.runs,
            "failures": summary.failures,
            "flips": summary.flips,
            "score": summary.score,
            "status": "flaky" if meta is not None and meta.flaky else "stable",
            "episodes": 0 if meta is None else meta.episodes,
            "since": None if meta is None else _utc(meta.since),
            "last_evidence_at": None if meta is None else _utc(meta.last_evidence_at),
            "evidence": []
            if meta is None
            else [_fragment(_EVIDENCE_JSON(e)) for e in meta.evidence],
            "updated_at": datetime.fromtimestamp(at, UTC),
        },
        option=_UTC_Z,
    )


_EVIDENCE_JSON = JsonByIdentity(Evidence.to_json)


def alert_id(subject: Subject, kind: str, episode: int) -> str:
    """One id per subject, kind and flag episode, whoever computes it."""
    return stable_id(kind, subject.key, episode)


def alert(entry: Entry, change: Alerted, service: str | None = None) -> Alert:
    """``flaky_test`` (warning) when flagged, ``flaky_test_recovered`` (info) when cleared;
    ``service``: the catalog service the test or step belongs to, if any."""
    subject = entry.subject
    summary = entry.summary()
    meta = entry.meta
    evidence = meta.evidence if meta else []
    where = subject.suite if isinstance(subject, TestSubject) else subject.pipeline
    flagged = change.change == "flagged"
    kind = "flaky_test" if flagged else "flaky_test_recovered"
    if flagged:
        summary_line = f"Flaky {subject.kind} in {where}: {subject.label} — {change.reason}"
    else:
        summary_line = f"No longer flaky in {where}: {subject.label} — {change.reason}"
    links: dict[str, str] = {}
    if evidence and evidence[-1].urls:
        links["evidence"] = evidence[-1].urls[0]
        if len(evidence[-1].urls) > 1:
            links["evidence_passed"] = evidence[-1].urls[1]
    return Alert(
        alert_id=alert_id(subject, kind, change.episode),
        kind=kind,
        severity="warning" if flagged else "info",
        service=service,
        created_at=_utc(change.at),
        summary=" ".join(summary_line.split())[:300],
        test={
            "key": subject.key,
            "kind": subject.kind,
            **_identity(subject),
            "episode": change.episode,
            "runs": summary.runs,
            "failures": summary.failures,
            "flips": summary.flips,
            "since": _iso(meta.since) if meta else None,
        },
        reasons=[e.detail for e in evidence] if flagged else [change.reason],
        links=links,
        score=summary.score,
    )


def test_run(
    run: Run, entries: dict[Subject, Entry], at: float, settings: FlakinessSettings
) -> TestRun | None:
    """The run as the correlator reads it; ``None`` when its pipeline is not known."""
    ctx = run.context
    if ctx.pipeline is None or ctx.suite is None:
        return None
    failed = run.failed_subjects()
    listed = failed[: settings.failed_tests_listed]
    names = [s.key for s in listed]
    fields: dict[str, Any] = {
        "pipeline": ctx.pipeline,
        "build_id": ctx.build_id,
        "build_number": ctx.build_number,
        "suite": ctx.suite,
        "commit": ctx.commit,
        "branch": ctx.branch,
        "executions": run.total,
        "failed_count": len(failed),
        "failed_tests": names,
        "known_flaky_failed": [s.key for s in listed if entries[s].flaky],
        "outage": run.is_outage(settings),
        "at": _utc(at),
    }
    event_id = stable_id("tests.runs", {k: v for k, v in fields.items() if k != "at"})
    return TestRun(event_id=event_id, **fields)
