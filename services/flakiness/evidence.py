"""Why a test or step looks flaky, read off its window.

Two kinds of evidence, both computed from the set of executions in the window:

* **Same commit, both outcomes.** A commit on which the test both failed and passed.
  The pair that explains it best is named: a rerun in the same job (pytest-rerunfailures,
  Surefire reruns), a job retry in the same build (automatic or manual, from the job's
  ``retry_type``/``retry_source``; for steps this is the job-level evidence), or another
  build of the same commit. Steps compare only jobs of the same parallel shard.
* **Transition rate.** On the default branch, each build's outcome (failed if the test
  failed there and never passed) in build order; flips (outcome changes between
  neighbouring builds) per build, when above the threshold over at least the minimum
  number of builds. One break fixed by the next commit is two flips: 0.2 over ten builds,
  not above the default threshold; two such breaks are::

      P P F P P F F P P P   10 builds, 4 flips: rate 0.4 > 0.2

The time of a piece of evidence is the newest execution it rests on (the commit's
newest execution; the newest build in the series). Adding executions never moves it
back, so however the executions of a commit arrive, once they are all in, the
evidence and its time are the same.

Executions of an outage run (most of its tests failed) are left out entirely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

from services.flakiness.execution import Context
from services.flakiness.settings import FlakinessSettings
from services.flakiness.window import Slot, Window

__all__ = ["Found", "Summary", "find", "summarize"]

_SAME_JOB, _SAME_BUILD, _OTHER_BUILD = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Found:
    """One piece of evidence: the two executions that show it, and a sentence."""

    kind: str  # same_commit | job_retry | transition_rate
    at: float
    failed: Context
    passed: Context
    detail: str
    retry_type: str | None = None

    def at_time(self, at: float) -> Found:
        return Found(self.kind, at, self.failed, self.passed, self.detail, self.retry_type)

    @property
    def identity(self) -> tuple[str, str | None]:
        """Evidence of one kind on one commit is one item (transition rate: one per subject)."""
        return (self.kind, None if self.kind == "transition_rate" else self.failed.commit)


@dataclass(frozen=True, slots=True)
class Summary:
    """The window at a glance: executions, failures, outcome flips in time order, score."""

    runs: int
    failures: int
    flips: int

    @property
    def score(self) -> float:
        """Share of neighbouring executions that disagree (0 = steady, 1 = alternating)."""
        return round(self.flips / (self.runs - 1), 4) if self.runs > 1 else 0.0


def summarize(window: Window, ordered: list[Slot] | None = None) -> Summary:
    """``ordered``: ``window.ordered()``, if already at hand."""
    if window.failures == 0:
        return Summary(len(window), 0, 0)
    ordered = window.ordered() if ordered is None else ordered
    return Summary(len(ordered), window.failures, _flips(ordered))


def find(
    window: Window,
    settings: FlakinessSettings,
    is_outage: Callable[[Context], bool],
    ordered: list[Slot] | None = None,
) -> list[Found]:
    """Every piece of evidence in ``window``, oldest first (``ordered``: as above)."""
    if window.failures == 0:
        return []
    ordered = window.ordered() if ordered is None else ordered
    usable = [s for s in ordered if not is_outage(s.context)]
    found = _same_commit(usable, settings)
    rate = _transition(usable, settings)
    if rate is not None:
        found.append(rate)
    return sorted(found, key=lambda f: (f.at, f.kind))


def _flips(ordered: list[Slot]) -> int:
    return sum(a.failed != b.failed for a, b in pairwise(ordered))


def _same_commit(slots: list[Slot], settings: FlakinessSettings) -> list[Found]:
    # only commits that failed somewhere can show both outcomes (most only passed)
    failed = {s.context.commit for s in slots if s.failed and s.context.commit is not None}
    by_commit: dict[str | None, list[Slot]] = {}
    for slot in slots:
        if slot.context.commit in failed:
            by_commit.setdefault(slot.context.commit, []).append(slot)
    found = []
    for group in by_commit.values():
        fails = [s for s in group if s.failed]
        if fails and len(fails) < len(group):
            best = _best_pair(fails, [s for s in group if not s.failed], settings)
            if best is not None:
                found.append(best.at_time(max(s.at for s in group)))
    return found


def _best_pair(fails: list[Slot], passes: list[Slot], settings: FlakinessSettings) -> Found | None:
    candidates = []
    for f in fails:
        for p in passes:
            if f.context.shard != p.context.shard:
                continue
            relation = _relation(f.context, p.context)
            retry_type = p.context.retry_type or f.context.retry_type
            if (
                relation == _SAME_BUILD
                and f.context.suite is None
                and retry_type is not None
                and retry_type not in settings.retry_types
            ):
                continue
            candidates.append((relation, max(f.order, p.order), f.order, f, p, retry_type))
    if not candidates:
        return None
    relation, _, _, f, p, retry_type = min(candidates, key=lambda c: c[:3])
    return _describe(relation, f, p, retry_type)


def _relation(failed: Context, passed: Context) -> int:
    if failed.job_id is not None and failed.job_id == passed.job_id:
        return _SAME_JOB
    return _SAME_BUILD if failed.build_id == passed.build_id else _OTHER_BUILD


def _build_name(ctx: Context) -> str:
    return f"build #{ctx.build_number}" if ctx.build_number else f"build {ctx.build_id}"


def _describe(relation: int, f: Slot, p: Slot, retry_type: str | None) -> Found:
    at = max(f.at, p.at)
    commit = (f.context.commit or "")[:12]
    if relation == _SAME_JOB:
        detail = f"failed, then passed on a rerun in the same job of {_build_name(f.context)}"
        return Found("same_commit", at, f.context, p.context, detail)
    if relation == _SAME_BUILD:
        how = (
            f"an {retry_type} retry"
            if retry_type == "automatic"
            else (f"a {retry_type} retry" if retry_type else "a retry")
        )
        detail = f"failed, then passed on {how} of the job in {_build_name(f.context)}"
        return Found("job_retry", at, f.context, p.context, detail, retry_type)
    detail = (
        f"commit {commit} failed in {_build_name(f.context)} and passed in {_build_name(p.context)}"
    )
    return Found("same_commit", at, f.context, p.context, detail)


def _transition(slots: Iterable[Slot], settings: FlakinessSettings) -> Found | None:
    """``slots`` in window order: the builds come in the order of their earliest slots,
    which is build order, and the last slot seen is the newest."""
    builds: dict[str, list[Slot]] = {}
    newest = 0.0
    for slot in slots:
        if slot.context.on_default_branch:
            builds.setdefault(slot.context.build_id, []).append(slot)
            newest = slot.at
    if len(builds) < settings.transition_min_runs:
        return None
    series = [(_build_failed(group), group) for group in builds.values()]
    outcomes = [failed for failed, _ in series]
    flips = sum(a != b for a, b in pairwise(outcomes))
    rate = flips / len(series)
    if rate <= settings.transition_threshold:
        return None
    last = max(i for i in range(1, len(series)) if outcomes[i] != outcomes[i - 1])
    before, after = series[last - 1][1], series[last][1]
    failed, passed = (before, after) if outcomes[last - 1] else (after, before)
    branch = after[0].context.branch or "the default branch"
    detail = (
        f"{flips} flips in {len(series)} builds on {branch} "
        f"(rate {rate:.2f} > {settings.transition_threshold})"
    )
    return Found("transition_rate", newest, failed[0].context, passed[0].context, detail)


def _build_failed(group: list[Slot]) -> bool:
    """A build failed the test when it failed there and never passed."""
    return group[0].failed if len(group) == 1 else all(s.failed for s in group)
