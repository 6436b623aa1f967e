"""Test executions, from any upload format, turned into ``tests.results`` messages.

Both the JSON upload and JUnit XML are first read into :class:`Execution` values;
this module gives each its attempt number, caps the failure text and computes the
deterministic ``event_id``, so one upload posted twice yields the same messages.

Attempts count per test identity (scope, name, file) in upload order: a test that
failed and passed on rerun appears twice and becomes attempt 1 and attempt 2.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.base import stable_id
from schemas.tests import FailureDetail, RunEnv, TestIdentity, TestResult, TestResultKind

__all__ = ["DEFAULT_LIMITS", "Execution", "Limits", "build_results", "cap_failure", "result_kind"]

_TRUNCATED = "…"


@dataclass(frozen=True)
class Limits:
    """Bounds on one upload; each is a setting of the receiver with these defaults."""

    max_inflated_bytes: int = 64 * 1024 * 1024  # the body, and all its files, after gunzip
    max_json_depth: int = 32  # nesting of a JSON body or data file
    max_executions: int = 20_000  # test executions in one upload
    max_reason_chars: int = 4_096  # failure_reason
    max_expanded_chars: int = 32_768  # all failure_expanded lines of one execution
    max_errors: int = 20  # error messages returned in the 202 body


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Execution:
    """One execution of one test as its source reported it."""

    name: str
    scope: str = ""
    id: str | None = None
    location: str | None = None
    file_name: str | None = None
    result: TestResultKind = "unknown"
    duration_s: float | None = None
    failure_reason: str | None = None
    # (expanded lines, backtrace lines) blocks, as the Test Engine JSON carries them
    failure_expanded: Sequence[tuple[Sequence[str], Sequence[str]]] = field(default=())


_RESULTS: dict[str, TestResultKind] = {
    "passed": "passed",
    "pass": "passed",
    "success": "passed",
    "failed": "failed",
    "fail": "failed",
    "failure": "failed",
    "error": "failed",
    "errored": "failed",
    "skipped": "skipped",
    "skip": "skipped",
    "pending": "skipped",
    "todo": "skipped",
    "disabled": "skipped",
}


def result_kind(raw: object) -> TestResultKind:
    """``passed``/``failed``/``skipped``/``unknown`` from what a collector sent."""
    if isinstance(raw, str):
        return _RESULTS.get(raw.strip().lower(), "unknown")
    return "unknown"


def _cap_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + _TRUNCATED


def cap_failure(
    blocks: Sequence[tuple[Sequence[str], Sequence[str]]], max_chars: int
) -> list[FailureDetail]:
    """The blocks with at most ``max_chars`` characters of lines in total.

    Lines past the budget are dropped and the last kept list gets a line saying how
    many were dropped, so a reader knows the text was cut here, not by the test.
    """
    budget = max_chars
    dropped = 0
    out: list[FailureDetail] = []
    for expanded, backtrace in blocks:
        kept: list[list[str]] = [[], []]
        for target, lines in zip(kept, (expanded, backtrace), strict=True):
            for line in lines:
                if budget <= 0:
                    dropped += 1
                    continue
                text = _cap_text(str(line), budget)
                budget -= len(text)
                target.append(text)
        out.append(FailureDetail(expanded=kept[0], backtrace=kept[1]))
    if dropped:
        last = out[-1]
        note = f"{_TRUNCATED} {dropped} more lines dropped by kitestream (size cap)"
        out[-1] = FailureDetail(expanded=[*last.expanded, note], backtrace=list(last.backtrace))
    return out


def build_results(
    executions: Iterable[Execution],
    *,
    suite: str,
    upload_id: str,
    run_env: RunEnv,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> list[TestResult]:
    """One :class:`TestResult` per execution, with attempts, caps and ``event_id``."""
    attempts: Counter[tuple[str, str, str | None]] = Counter()
    env = run_env.model_dump(mode="json")
    out: list[TestResult] = []
    for ex in executions:
        identity = (ex.scope, ex.name, ex.file_name)
        attempts[identity] += 1
        attempt = attempts[identity]
        reason = ex.failure_reason
        test = TestIdentity(
            id=ex.id, scope=ex.scope, name=ex.name, location=ex.location, file_name=ex.file_name
        )
        identity_json = test.model_dump(mode="json")
        out.append(
            TestResult(
                event_id=stable_id(
                    "tests.results", suite, env, identity_json, attempt, ex.result, ex.duration_s
                ),
                suite=suite,
                upload_id=upload_id,
                received_at=received_at,
                test=test,
                result=ex.result,
                attempt=attempt,
                duration_s=ex.duration_s,
                failure_reason=reason and _cap_text(reason, limits.max_reason_chars),
                failure_expanded=cap_failure(ex.failure_expanded, limits.max_expanded_chars),
                run_env=run_env,
            )
        )
    return out
