"""Input messages as executions: which count, and what is read from them."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.buildkite import BuildRef, Job, JobEvent, Pipeline, RetrySource
from services.flakiness import BadRecord
from services.flakiness.execution import StepSubject
from services.flakiness.inputs import from_job_event, pipeline_from_url

MAIN = frozenset({"main", "master"})


def job_event(event: str = "job.finished", **job: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "job-1",
        "type": "script",
        "name": ":pytest: unit",
        "step_key": "unit",
        "state": "passed",
        "finished_at": "2027-01-15T08:00:00Z",
        **job,
    }
    return JobEvent(
        event_id="e-1",
        event=event,
        received_at="2027-01-15T08:00:05Z",
        pipeline=Pipeline(slug="payments-api", default_branch="trunk"),
        build=BuildRef(id="build-1", number=7, branch="trunk", commit="abc"),
        job=Job(**fields),
        payload={},
    ).model_dump(mode="json")


def test_a_finished_job_is_an_execution_of_its_step_identified_by_the_job() -> None:
    execution = from_job_event(job_event(state="failed"), MAIN)
    assert execution is not None
    assert execution.subject == StepSubject("payments-api", "unit")
    assert execution.failed
    assert execution.event_id == "job-1"
    assert execution.at == 1_800_000_000.0  # finished_at, not when it was received
    assert execution.context.on_default_branch  # the pipeline's own default branch
    assert execution.context.build_number == "7"


@pytest.mark.parametrize(
    ("fields", "failed"),
    [
        ({"state": "timed_out"}, True),
        ({"state": None, "exit_status": 1}, True),
        ({"state": None, "exit_status": 0}, False),
    ],
)
def test_job_outcomes_are_read_from_state_or_exit_status(
    fields: dict[str, Any], failed: bool
) -> None:
    execution = from_job_event(job_event(**fields), MAIN)
    assert execution is not None
    assert execution.failed is failed


@pytest.mark.parametrize(
    "data",
    [
        job_event("job.started"),
        job_event(state="canceled"),
        job_event(type="waiter"),
        job_event(step_key=None, name=None),
    ],
)
def test_jobs_that_did_not_pass_or_fail_are_not_executions(data: dict[str, Any]) -> None:
    assert from_job_event(data, MAIN) is None


def test_the_retry_type_comes_from_retry_source_or_the_older_field() -> None:
    new = from_job_event(
        job_event(retry_source=RetrySource(job_id="job-0", retry_type="automatic")), MAIN
    )
    old = from_job_event(job_event(retried=True, retry_type="manual"), MAIN)
    assert new is not None
    assert old is not None
    assert (new.context.retry_type, old.context.retry_type) == ("automatic", "manual")


def test_a_step_without_a_key_is_known_by_its_label() -> None:
    execution = from_job_event(job_event(step_key=None), MAIN)
    assert execution is not None
    assert execution.subject == StepSubject("payments-api", ":pytest: unit")


def test_a_job_event_without_a_build_is_refused() -> None:
    data = job_event()
    del data["build"]
    with pytest.raises(BadRecord):
        from_job_event(data, MAIN)


def test_the_pipeline_is_read_from_a_buildkite_build_url() -> None:
    assert pipeline_from_url("https://buildkite.com/acme/payments-api/builds/42") == "payments-api"
    assert pipeline_from_url("https://buildkite.com/acme/payments-api/builds/42#job") == (
        "payments-api"
    )
    assert pipeline_from_url("https://example.com/nope") is None
    assert pipeline_from_url(None) is None
