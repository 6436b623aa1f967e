"""The state written straight as JSON is the model's JSON, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.flakiness import Evidence
from services.flakiness.execution import Context, Execution, StepSubject, Subject, TestSubject
from services.flakiness.messages import state, state_json
from services.flakiness.status import Meta
from services.flakiness.tracker import Entry
from services.flakiness.window import Contexts
from tests.thorough import examples

NAMES = st.text(min_size=1, max_size=20)
SUBJECTS: st.SearchStrategy[Subject] = st.one_of(
    st.builds(TestSubject, NAMES, NAMES, NAMES, st.none() | NAMES),
    st.builds(StepSubject, NAMES, NAMES),
)
# event times: whole seconds, fractions (microseconds on the wire) and before 1970
TIMES = st.floats(min_value=-1e9, max_value=4e9, allow_nan=False) | st.integers(0, 4 * 10**9)


def entry_of(subject: Subject, outcomes: list[tuple[float, bool]]) -> Entry:
    entry = Entry(subject, Contexts())
    ctx = Context(build_id="b", build_number="1", job_id="j", commit="c" * 40, branch="main")
    for n, (at, failed) in enumerate(outcomes):
        entry.add(Execution(subject, ctx, at, f"event-{n}", failed), 50, 1e12)
    return entry


@settings(max_examples=examples(300))
@given(
    SUBJECTS,
    st.lists(st.tuples(TIMES.map(float), st.booleans()), max_size=12),
    TIMES,
)
def test_a_state_written_straight_is_the_models_json(
    subject: Subject, outcomes: list[tuple[float, bool]], at: float
) -> None:
    entry = entry_of(subject, outcomes)
    assert state_json(entry, at) == state(entry, at).to_json()


TEXT = st.text(max_size=30)
EVIDENCE = st.builds(
    Evidence,
    kind=st.sampled_from(["same_commit", "transition_rate", "job_retry"]),
    at=st.datetimes(
        min_value=datetime(1950, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    commit=st.none() | TEXT,
    branch=st.none() | TEXT,
    build_ids=st.lists(TEXT, max_size=2),
    job_ids=st.lists(TEXT, max_size=2),
    urls=st.lists(TEXT, max_size=2),
    retry_type=st.sampled_from([None, "manual", "automatic"]),
    detail=TEXT,
)
METAS = st.builds(
    Meta,
    flaky=st.booleans(),
    episodes=st.integers(0, 50),
    since=st.none() | TIMES.map(float),
    last_evidence_at=st.none() | TIMES.map(float),
    evidence=st.lists(EVIDENCE, max_size=4),
)


@settings(max_examples=examples(300))
@given(
    SUBJECTS,
    st.lists(st.tuples(TIMES.map(float), st.booleans()), max_size=12),
    METAS,
    TIMES,
)
def test_a_state_with_any_status_written_straight_is_the_models_json(
    subject: Subject, outcomes: list[tuple[float, bool]], meta: Meta, at: float
) -> None:
    entry = entry_of(subject, outcomes)
    entry.meta = meta
    assert state_json(entry, at) == state(entry, at).to_json()
    # again, with the evidence's JSON cached by now
    assert state_json(entry, at) == state(entry, at).to_json()


def test_a_state_with_a_status_is_the_models_json() -> None:
    subject = TestSubject("pytest", "tests.a", "test_b", "tests/a.py")
    entry = entry_of(subject, [(1.8e9, True), (1.8e9 + 60.5, False)])
    entry.meta = Meta(flaky=True, episodes=2, since=1.8e9)
    assert state_json(entry, 1.8e9 + 61) == state(entry, 1.8e9 + 61).to_json()
    assert b'"status":"flaky"' in state_json(entry, 1.8e9 + 61)
