"""Flag and clear with hysteresis: what a test's flaky status is and when it changes.

A subject is flagged by **new** evidence: evidence newer than any it had before. It
stays flagged while evidence keeps coming, and clears once ``clear_after_days`` of its
own event time or ``clear_after_runs`` executions have passed without new evidence::

    evidence:    E1          E2
    executions:  ·  ·  ·  ·  ·  ·  ·  ·  ·  … 100 executions or 7 days …  ·
    status:      flaky ─────────────────────────────────────────────────▶ stable
                 ▲ flaky_test (episode 1)                  flaky_test_recovered ▲

Old evidence still in the window after a clear does not flag again; only evidence
newer than the last one does. Each flag starts an *episode*, numbered 1, 2, …; alert
ids are derived from the subject and the episode number, so the same episode gives
the same id whoever computes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from schemas.flakiness import Evidence
from services.flakiness.evidence import Found
from services.flakiness.settings import FlakinessSettings

__all__ = ["Change", "Meta", "evidence_of"]

Change = Literal["flagged", "cleared"]


def evidence_of(found: Found) -> Evidence:
    """The published form of one piece of evidence, with links to both executions."""
    f, p = found.failed, found.passed
    builds = list(dict.fromkeys(b for b in (f.build_id, p.build_id) if b))
    jobs = list(dict.fromkeys(j for j in (f.job_id, p.job_id) if j))
    urls = list(dict.fromkeys(u for u in (f.url, p.url) if u))
    return Evidence(
        kind=found.kind,
        at=datetime.fromtimestamp(found.at, UTC),
        commit=f.commit,
        branch=f.branch,
        build_ids=builds,
        job_ids=jobs,
        urls=urls,
        retry_type=found.retry_type,
        detail=found.detail,
    )


@dataclass(slots=True)
class Meta:
    """Status and evidence history of one subject (absent while it never had evidence)."""

    flaky: bool = False
    episodes: int = 0
    since: float | None = None
    last_evidence_at: float | None = None
    after: int = 0  # executions newer than the last evidence, counted while flagged
    evidence: list[Evidence] = field(default_factory=list)

    def observe(
        self,
        found: list[Found],
        newest: float,
        added_at: float | None,
        count_after: Callable[[float], int],
        settings: FlakinessSettings,
    ) -> Change | None:
        """Update on the subject's current evidence after an execution at ``added_at``
        (``None`` when re-judged without a new execution). ``newest`` is the subject's
        latest execution time; ``count_after(t)`` counts its executions after ``t``."""
        fresh = self.news(found)
        change: Change | None = None
        if fresh:
            latest = max(f.at for f in fresh)
            if not self.flaky:
                self.flaky = True
                self.episodes += 1
                self.since = min(f.at for f in fresh)
                change = "flagged"
            self.last_evidence_at = latest
            self.after = count_after(latest)
            self._remember(fresh, settings.evidence_kept)
        elif self.flaky and added_at is not None and added_at > (self.last_evidence_at or 0.0):
            self.after += 1
        if self.flaky and change is None and self._quiet(newest, settings):
            self.flaky = False
            self.after = 0
            change = "cleared"
        return change

    def news(self, found: list[Found]) -> list[Found]:
        """Evidence newer than the newest seen so far."""
        last = self.last_evidence_at
        return found if last is None else [f for f in found if f.at > last]

    def expire(self) -> Change | None:
        """The subject has not run for a whole window: clear it (its window is dropped)."""
        if not self.flaky:
            return None
        self.flaky = False
        self.after = 0
        return "cleared"

    def _quiet(self, newest: float, settings: FlakinessSettings) -> bool:
        assert self.last_evidence_at is not None
        return (
            newest - self.last_evidence_at >= settings.clear_after_s
            or self.after >= settings.clear_after_runs
        )

    def _remember(self, fresh: list[Found], keep: int) -> None:
        replaced = {f.identity for f in fresh}
        kept = [e for e in self.evidence if _identity(e) not in replaced]
        kept.extend(evidence_of(f) for f in sorted(fresh, key=lambda f: f.at))
        self.evidence = kept[-keep:]


def _identity(evidence: Evidence) -> tuple[str, str | None]:
    return (evidence.kind, None if evidence.kind == "transition_rate" else evidence.commit)
