"""Hypothesis strategies for webhook payloads: any JSON, shapes near Buildkite's, and the
real payloads of :mod:`tests.unit.receiver.payloads` with fields replaced or removed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from bench.receiver import build_finished
from services.receiver.buildkite_payload import (
    AgentIn,
    BuildIn,
    JobIn,
    PersonIn,
    PipelineIn,
    RetrySourceIn,
)
from tests.unit.receiver.payloads import build_webhook, job_webhook

__all__ = [
    "BASES",
    "GONE",
    "PLACES",
    "SAMPLE_VALUES",
    "changed",
    "json_values",
    "mutated_webhooks",
    "near_payloads",
    "timestamps",
]

# What orjson.loads can return: integers beyond 64 bits arrive as floats, never as ints.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
near_payloads = st.fixed_dictionaries(
    {},
    optional={
        "build": st.dictionaries(
            st.sampled_from(["id", "number", "state", "creator", "finished_at", "pipeline"]),
            json_values,
        ),
        "job": st.dictionaries(
            st.sampled_from(["id", "exit_status", "retry_source", "agent", "started_at"]),
            json_values,
        ),
        "pipeline": st.dictionaries(st.sampled_from(["slug", "tags", "provider"]), json_values),
        "agent": json_values,
    },
)


def _iso(at: datetime, form: str) -> str:
    if form == "ms":
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    if form == "us":
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if form == "utc":
        return at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return at.isoformat()


_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-10))])

# Timestamps in the forms Buildkite sends and some it does not (offsets, out of range
# in UTC, invalid dates, stray spaces, non-ASCII digits).
timestamps = st.one_of(
    st.builds(_iso, st.datetimes(timezones=st.just(UTC)), st.sampled_from(["ms", "us", "utc"])),
    st.builds(_iso, st.datetimes(timezones=_ZONES), st.just("iso")),
    st.sampled_from(
        [
            "2026-08-01T10:00:05.000Z",
            "2026-08-01T10:00:05Z",
            "2026-08-01T10:00:05.5Z",
            "2026-08-01T10:00:05.000+00:00",
            "2026-02-30T10:00:05.000Z",
            "2026-08-01T24:00:00.000Z",
            " 2026-08-01T10:00:05.000Z ",
            "2026-08-01t10:00:05.000z",
            "2026-08-01T10:00:05",
            "2026-W31-6T10:00:05Z",
            "9999-12-31T23:59:59-10:00",
            "0001-01-01T00:00:00+01:00",
            "２０２６-08-01T10:00:05.000Z",
            "",
        ]
    ),
)

# The objects of a webhook whose fields are worth replacing, and those fields (what the
# edge models read, and a few ``*_at`` fields they do not).
PLACES: dict[tuple[str, ...], list[str]] = {
    (): ["event", "build", "job", "pipeline"],
    ("build",): [*BuildIn.model_fields, "runnable_at", "url"],
    ("build", "creator"): list(PersonIn.model_fields),
    ("build", "pipeline"): list(PipelineIn.model_fields),
    ("pipeline",): list(PipelineIn.model_fields),
    ("pipeline", "provider"): ["id", "settings"],
    ("job",): [*JobIn.model_fields, "created_at", "runnable_at"],
    ("job", "agent"): list(AgentIn.model_fields),
    ("job", "retry_source"): list(RetrySourceIn.model_fields),
}
GONE = object()  # a change that removes the field
# One value of each kind the edge models treat differently (coerced, None, refused).
SAMPLE_VALUES: list[Any] = [
    GONE,
    None,
    True,
    False,
    0,
    1,
    2**64 - 1,
    1.0,
    2.5,
    "",
    "x",
    "42",
    "true",
    "manual",
    "é" * 512,
    "😀" * 513,
    "2026-08-01T10:00:05.000Z",
    "2026-08-01 10:00:05 UTC",
    "2026-08-01T12:00:05.5+02:00",
    "2026-02-30T10:00:05.000Z",
    [],
    ["a"],
    ["a", 1],
    {},
    {"id": "gitlab"},
    {"id": 3},
    {"id": None},
]
_VALUES: st.SearchStrategy[Any] = st.sampled_from(SAMPLE_VALUES) | timestamps | json_values
_CHANGE = st.tuples(
    st.sampled_from(sorted(PLACES)).flatmap(
        lambda place: st.tuples(st.just(place), st.sampled_from(PLACES[place]))
    ),
    _VALUES,
)
BASES = [
    ("build.finished", build_webhook()),
    ("build.running", build_webhook(finished_at=None)),
    ("build.finished", build_finished(7)),
    ("job.finished", job_webhook()),
    ("job.finished", job_webhook(retry_source={"job_id": "j0", "retry_type": "manual"})),
    ("job.started", job_webhook(exit_status=None)),
]


def changed(
    base: tuple[str, dict[str, Any]], changes: list[tuple[tuple[tuple[str, ...], str], Any]]
) -> tuple[str, dict[str, Any]]:
    """A copy of ``base`` with ``((place, key), value)`` changes made (where the place is
    still an object)."""
    name, payload = base[0], copy.deepcopy(base[1])
    for (place, key), value in changes:
        target: Any = payload
        for step in place:
            target = target.get(step) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if value is GONE:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)
    return name, payload


# (event name, payload): a real build or job webhook with one to four fields changed.
mutated_webhooks = st.builds(
    changed, st.sampled_from(BASES), st.lists(_CHANGE, min_size=1, max_size=4)
)
