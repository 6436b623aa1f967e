"""Test plans for Buildkite's test engine client (``bktec run``), with quarantine. Pure.

``bktec`` asks its server for a plan before it runs the tests; pointed at kitestream
(``BUILDKITE_TEST_ENGINE_BASE_URL``), it gets one that honours quarantine. The shapes
are bktec's own (``internal/api/create_test_plan.go``, ``internal/plan/type.go``)::

    POST …/suites/{suite}/test_plan/filter_tests   {"files": [{"path": "test_a.py"}], …}
    -> {"tests": [{"path": "test_a.py"}]}          files holding skipped tests: bktec
                                                   splits them into examples
    POST …/suites/{suite}/test_plan
         {"identifier", "parallelism", "runner", "branch",
          "tests": {"selectors": [{"value"}], "files": [{"path"}],
                    "examples": [{"path", "scope", "name", "identifier", "format"}]}}
    -> {"identifier", "parallelism", "tasks": {"0": {"node_number": 0, "tests": [...]}},
        "muted_tests": [{"scope", "name", "path", "format"}], "skipped_tests": [...]}

Skipped tests are left out of every task; muted tests stay in (bktec runs them and
does not fail the build on their failures; it matches them on scope and name).

Tests are split over ``parallelism`` nodes by their mean durations when the store
knows some (:class:`Durations`): longest first, each to the node with the least work
so far (LPT), a test with no known duration counted at the median of the known ones.
With none known they are dealt round-robin in sorted order, as bktec's own fallback
does. A file's (or selector's) duration is the sum of its tests'.

Scopes come in two forms: the collector's (``tests/test_a.py::TestX``) and JUnit's
(``tests.test_a.TestX``); :func:`junit_scope` turns the first into the second, so a
test quarantined under either form matches a runner using either.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.quarantine.client import Quarantined

__all__ = [
    "Durations",
    "PlanRequest",
    "build_plan",
    "files_to_split",
    "junit_scope",
    "quarantined_files",
    "split",
]

Json = dict[str, Any]
MAX_PARALLELISM = 1000


class _Edge(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PlanExample(_Edge):
    format: str = ""
    identifier: str = ""
    name: str = ""
    path: str
    scope: str = ""


class PlanPath(_Edge):
    path: str


class PlanSelector(_Edge):
    value: str


class PlanTests(_Edge):
    files: list[PlanPath] = []
    examples: list[PlanExample] = []
    selectors: list[PlanSelector] = []


class PlanRequest(_Edge):
    """bktec's ``TestPlanParams`` (the fields a plan here depends on)."""

    identifier: str = Field(default="", max_length=1000)
    parallelism: int = Field(default=1, ge=0, le=MAX_PARALLELISM)
    max_parallelism: int = Field(default=0, ge=0, le=MAX_PARALLELISM)
    runner: str = ""
    branch: str = ""
    tests: PlanTests = PlanTests()


class FilterRequest(_Edge):
    """bktec's ``FilterTestsParams``."""

    files: list[PlanPath] = []


def junit_scope(scope: str) -> str:
    """``tests/test_a.py::TestX`` -> ``tests.test_a.TestX`` (bktec's
    ``collectorScopeToJunitScope``); a JUnit scope is returned as it is."""
    path, sep, rest = scope.partition("::")
    path = path.removesuffix(".py")
    if sep:
        path = f"{path}::{rest}"
    return path.replace("::", ".").replace("/", ".")


def _slot(scope: str, name: str) -> tuple[str, str]:
    return junit_scope(scope), name


def quarantined_files(test: Quarantined) -> set[str]:
    """The files a quarantined test may live in (empty: cannot tell)."""
    found = {test.file} if test.file else set()
    path = test.scope.partition("::")[0]
    if path.endswith(".py"):
        found.add(path)
    return found


def files_to_split(files: Iterable[str], skipped: Iterable[Quarantined]) -> list[str]:
    """The ``files`` bktec must split into examples so that skipped tests can be left
    out: those holding a skipped test; every file when a skipped test's file is
    unknown (its scope names no ``.py`` file and it has none)."""
    asked = list(dict.fromkeys(files))
    wanted: set[str] = set()
    for test in skipped:
        where = quarantined_files(test)
        if not where:
            return asked
        wanted |= where
    return [f for f in asked if f in wanted]


def _case(test: Quarantined) -> list[Json]:
    """A quarantined test as bktec's ``TestCase``s: one per scope form."""
    scopes = dict.fromkeys([test.scope, junit_scope(test.scope)])
    return [
        {"format": "example", "scope": scope, "name": test.name,
         "path": f"{scope}::{test.name}" if scope else test.name}
        for scope in scopes
    ]  # fmt: skip


@dataclass(frozen=True)
class Durations:
    """Mean seconds per test, by (JUnit scope, name), and per test file (the sum)."""

    tests: Mapping[tuple[str, str], float] = field(default_factory=dict)
    files: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, str | None, float]]) -> Durations:
        """From (scope, name, file, mean seconds) rows."""
        tests: dict[tuple[str, str], float] = {}
        files: dict[str, float] = {}
        for scope, name, file, seconds in rows:
            tests[_slot(scope, name)] = seconds
            path = file or scope.partition("::")[0]
            if path.endswith(".py") or file:
                files[path] = files.get(path, 0.0) + seconds
        return cls(tests, files)

    def of_case(self, case: Json) -> float | None:
        if case["format"] == "example":
            return self.tests.get(_slot(case.get("scope", ""), case.get("name", "")))
        return self.files.get(case["path"])


def split(cases: list[Json], nodes: int, durations: Durations | None = None) -> list[list[Json]]:
    """``cases`` over ``nodes``: by duration (LPT) when any is known, else round-robin."""
    ordered = sorted(cases, key=lambda c: (c["path"], c["format"]))
    known = {id(c): d for c in ordered if durations and (d := durations.of_case(c)) is not None}
    tasks: list[list[Json]] = [[] for _ in range(nodes)]
    if not known:
        for index, case in enumerate(ordered):
            tasks[index % nodes].append(case)
        return tasks
    fill = statistics.median(known.values())
    weighed = sorted(ordered, key=lambda c: -known.get(id(c), fill))  # stable: by path
    loads = [(0.0, node) for node in range(nodes)]
    for case in weighed:
        load, node = heapq.heappop(loads)
        tasks[node].append(case)
        heapq.heappush(loads, (load + known.get(id(case), fill), node))
    return tasks


def build_plan(
    request: PlanRequest, quarantined: Iterable[Quarantined], durations: Durations | None = None
) -> Json:
    """The plan for ``request``, given the suite's tests quarantined now and the mean
    durations the store knows."""
    muted = [q for q in quarantined if q.state == "muted"]
    skipped = [q for q in quarantined if q.state == "skipped"]
    left_out = {_slot(q.scope, q.name) for q in skipped}
    cases: list[Json] = [
        {"format": "selector", "value": s.value, "path": s.value} for s in request.tests.selectors
    ]
    cases += [{"format": "file", "path": f.path} for f in request.tests.files]
    cases += [
        {"format": "example", "path": e.path, "identifier": e.identifier or e.path,
         "scope": e.scope, "name": e.name}
        for e in request.tests.examples
        if _slot(e.scope, e.name) not in left_out
    ]  # fmt: skip
    nodes = max(1, request.parallelism)
    tasks = {
        str(i): {"node_number": i, "tests": tests}
        for i, tests in enumerate(split(cases, nodes, durations))
    }
    return {
        "identifier": request.identifier,
        "parallelism": nodes,
        "experiment": "",
        "tasks": tasks,
        "muted_tests": [c for q in muted for c in _case(q)],
        "skipped_tests": [c for q in skipped for c in _case(q)],
    }
