"""Test runs (one build of one suite): how many results, how many failed, outage or not.

A run's counts are those of its executions still held in some window, kept up to date
as executions enter and leave windows. Counting only what the windows hold means the
counts can always be rebuilt exactly from the changelog after a restart.

A run is an **outage** when it has at least ``outage_min_tests`` results and at least
``outage_fraction`` of them failed: the failures say the environment broke, not the
tests, and none of the run's executions count as evidence. The judgement follows the
run as its results arrive: a run whose first ten results all failed is an outage until
enough passes arrive to say otherwise (then its failures are looked at again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.flakiness.execution import Context, Subject
from services.flakiness.settings import FlakinessSettings

__all__ = ["Run", "RunBook", "RunKey"]

RunKey = tuple[str, str]  # (build id, suite)


@dataclass(slots=True)
class Run:
    """Live counts of one run, and per failing subject its [failures, passes] in the run.

    ``failed_tests`` counts the subjects that failed and did not pass in the run."""

    context: Context
    total: int = 0
    failed: int = 0
    failed_tests: int = 0
    failing: dict[Subject, list[int]] = field(default_factory=dict)

    def is_outage(self, settings: FlakinessSettings) -> bool:
        return self.outage(settings.outage_min_tests, settings.outage_fraction)

    def outage(self, min_tests: int, fraction: float) -> bool:
        """:meth:`is_outage` with the two settings at hand (the tracker reads them from
        its settings once, not per result: a pydantic attribute is a slow read)."""
        return self.total >= min_tests and self.failed >= fraction * self.total

    def failed_subjects(self) -> list[Subject]:
        """Subjects that failed in this run and did not pass in it, by key."""
        return sorted((s for s, (_, p) in self.failing.items() if p == 0), key=lambda s: s.key)


class RunBook:
    """Every run some window still refers to."""

    def __init__(self, settings: FlakinessSettings) -> None:
        self.settings = settings
        self.runs: dict[RunKey, Run] = {}
        self.min_tests = settings.outage_min_tests
        self.fraction = settings.outage_fraction
        # the run get found last, and its key's two strings: the results of one job
        # share one context, so their keys hold the same two string objects, and most
        # follow each other (the strings, not the key: compiled, a RunKey is a native
        # pair, boxed as a new tuple object whenever one is needed)
        self._build = ""
        self._suite = ""
        self._run: Run | None = None

    def get(self, key: RunKey) -> Run | None:
        """The run of ``key``, if some window refers to it (the key of the run found
        last is answered without hashing it again)."""
        if self._run is not None and key[0] == self._build and key[1] == self._suite:
            return self._run
        run = self.runs.get(key)
        if run is not None:
            self._build, self._suite = key
            self._run = run
        return run

    def is_outage(self, context: Context) -> bool:
        key = context.run
        if key is None:
            return False
        run = self.runs.get(key)
        return run is not None and run.failed != 0 and run.outage(self.min_tests, self.fraction)

    def enter(
        self,
        subject: Subject,
        context: Context,
        failed: bool,
        passes_before: int,
        run: Run | None = None,
    ) -> Run:
        """Count an execution that entered a window. ``passes_before``: the subject's
        passes already held in this run (needed when its first failure arrives late);
        ``run``: the context's run, if already looked up."""
        if run is None:
            run = self._run_of(context)
        run.total += 1
        if failed:
            run.failed += 1
            counts = run.failing.get(subject)
            if counts is None:
                counts = run.failing[subject] = [0, passes_before]
                run.failed_tests += passes_before == 0
            counts[0] += 1
        else:
            counts = run.failing.get(subject)
            if counts is not None:
                counts[1] += 1
                run.failed_tests -= counts[1] == 1
        return run

    def count_pass(self, context: Context) -> None:
        """Count a pass of a subject with no failure in any run (restoring)."""
        self._run_of(context).total += 1

    def _run_of(self, context: Context) -> Run:
        """The context's run, made (empty) if it is new."""
        key = context.run
        assert key is not None
        run = self.runs.get(key)
        if run is None:
            run = self.runs[key] = Run(context)
        return run

    def leave(self, subject: Subject, context: Context, failed: bool) -> None:
        """Forget an execution that left its window."""
        key = context.run
        assert key is not None
        run = self.runs[key]
        run.total -= 1
        if failed:
            run.failed -= 1
            counts = run.failing[subject]
            counts[0] -= 1
            if counts[0] == 0:
                del run.failing[subject]
                run.failed_tests -= counts[1] == 0
        else:
            passed = run.failing.get(subject)
            if passed is not None:
                passed[1] -= 1
                run.failed_tests += passed[1] == 0
        if run.total == 0:
            del self.runs[key]
            if run is self._run:
                self._run = None
