"""Stage 1: which services an input event concerns, and as what."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from schemas.buildkite import Build, BuildEvent, BuildRef, Job, JobEvent, Pipeline
from schemas.flakiness import TestRun
from schemas.operations import DeployEvent, IncidentEvent
from services.catalog import Catalog, PipelineInfo, Service
from services.correlator.observations import DeploySeen, FailureSeen, IncidentSeen, TestRunSeen
from services.correlator.observer import Observer
from tests.unit.correlator.timeline import deploy, failure, incident, play

T = datetime(2026, 8, 1, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 8, 1, 10, 7, tzinfo=UTC)

CATALOG = Catalog(
    {
        "payments-api": Service(
            name="payments-api",
            pipelines=frozenset({"payments-api"}),
            deploy_pipelines=frozenset({"payments-api-deploy"}),
            test_suites=frozenset({"payments-pytest"}),
            pagerduty_services=frozenset({"PABC123"}),
            depends_on=frozenset({"ledger"}),
            environments=frozenset({"production"}),
        ),
        "ledger": Service(
            name="ledger",
            repositories=frozenset({"github.com/acme/ledger"}),
            deploy_steps=frozenset({"deploy-production"}),
            pagerduty_services=frozenset({"PLED001", "PSHARED"}),
        ),
        "search": Service(
            name="search",
            pipeline_tags=frozenset({"search"}),
            pagerduty_services=frozenset({"PSHARED"}),
        ),
    },
    pipelines={"search-indexer": PipelineInfo("search-indexer", default_branch="trunk")},
)
OBSERVER = Observer(CATALOG)


def build(
    slug: str,
    state: str,
    *,
    branch: str = "main",
    default_branch: str | None = "main",
    tags: tuple[str, ...] = (),
    repository: str | None = None,
    event: str = "build.finished",
) -> BuildEvent:
    return BuildEvent(
        event_id="e1",
        event=event,
        received_at=LATER,
        pipeline=Pipeline(
            slug=slug, tags=list(tags), repository=repository, default_branch=default_branch
        ),
        build=Build(
            id="b-uuid",
            number=812,
            state=state,
            branch=branch,
            commit="a1b2c3d4",
            web_url=f"https://buildkite.com/acme/{slug}/builds/812",
            started_at=T,
            finished_at=LATER,
        ),
        payload={},
    )


def job(step_key: str | None, state: str, *, exit_status: int | None = None) -> JobEvent:
    return JobEvent(
        event_id="e2",
        event="job.finished",
        received_at=LATER,
        pipeline=Pipeline(slug="ledger-ci", repository="git@github.com:acme/ledger.git"),
        build=BuildRef(id="b2", number=5, branch="main", commit="feedbeef"),
        job=Job(
            id="j-uuid",
            step_key=step_key,
            state=state,
            exit_status=exit_status,
            started_at=T,
            finished_at=LATER,
            web_url="https://buildkite.com/acme/ledger-ci/builds/5#j-uuid",
        ),
        payload={},
    )


def deploy_event(
    service: str,
    state: Literal["started", "succeeded", "failed", "cancelled"],
    environment: str = "production",
) -> DeployEvent:
    return DeployEvent(
        event_id="e3",
        deploy_id="42",
        service=service,
        environment=environment,
        commit="a1b2c3d4",
        state=state,
        started_at=T,
        finished_at=LATER,
        url="https://deploys.example.com/42",
        received_at=LATER,
    )


def incident_event(service: str) -> IncidentEvent:
    return IncidentEvent(
        event_id="e4",
        event="incident.triggered",
        incident_id="Q1",
        service=service,
        title="Checkout 500s",
        status="triggered",
        opened_at=T,
        source="pagerduty",
        received_at=LATER,
    )


def kinds(found: list[Any]) -> list[tuple[str, str]]:
    return [(type(o).__name__, o.service) for o in found]


def test_a_failed_build_on_the_default_branch_is_a_failure_of_its_services() -> None:
    (seen,) = OBSERVER.build(build("payments-api", "failed"))
    assert isinstance(seen, FailureSeen)
    assert (seen.service, seen.kind, seen.failure_id) == ("payments-api", "build", "build:b-uuid")
    assert seen.at == LATER
    assert seen.title == "payments-api #812 failed on main"


def test_a_failed_build_on_another_branch_or_a_passed_one_is_nothing() -> None:
    assert OBSERVER.build(build("payments-api", "failed", branch="feature/x")) == []
    assert OBSERVER.build(build("payments-api", "passed")) == []
    assert OBSERVER.build(build("payments-api", "running", event="build.running")) == []


def test_the_payload_state_counts_whatever_the_event_name() -> None:
    assert len(OBSERVER.build(build("payments-api", "failed", event="build.running"))) == 1


def test_the_default_branch_comes_from_the_event_then_pipelines_json_then_the_setting() -> None:
    def failed(slug: str, branch: str, observer: Observer = OBSERVER) -> int:
        event = build(slug, "failed", branch=branch, tags=("search",), default_branch=None)
        return len(observer.build(event))

    assert failed("search-indexer", "main") == 0  # pipelines.json says trunk
    assert failed("search-indexer", "trunk") == 1
    assert failed("search-x", "master") == 1  # unknown: main or master
    assert failed("search-x", "master", Observer(CATALOG, ["develop"])) == 0


def test_a_passed_deploy_pipeline_build_is_a_deploy_and_a_failed_one_a_failure() -> None:
    (deploy,) = OBSERVER.build(build("payments-api-deploy", "passed", branch="release"))
    assert isinstance(deploy, DeploySeen)
    assert (deploy.service, deploy.deploy_id, deploy.at) == ("payments-api", "build:b-uuid", T)
    (failed,) = OBSERVER.build(build("payments-api-deploy", "failed", branch="release"))
    assert isinstance(failed, FailureSeen)
    assert failed.kind == "deploy"


def test_a_deploy_is_also_seen_by_every_service_that_depends_on_it() -> None:
    found = OBSERVER.job(job("deploy-production", "passed"))
    assert kinds(found) == [("DeploySeen", "ledger"), ("DeploySeen", "payments-api")]
    assert all(isinstance(o, DeploySeen) and o.deployed_service == "ledger" for o in found)


def test_a_job_is_a_deploy_only_with_a_deploy_step_key_and_an_end() -> None:
    assert OBSERVER.job(job("tests", "passed")) == []
    assert OBSERVER.job(job(None, "passed")) == []
    assert OBSERVER.job(job("deploy-production", "running")) == []
    assert kinds(OBSERVER.job(job("deploy-production", "finished", exit_status=1))) == [
        ("FailureSeen", "ledger")
    ]
    assert len(OBSERVER.job(job("deploy-production", "finished", exit_status=0))) == 2


def test_deploy_events_by_state_and_environment() -> None:
    assert kinds(OBSERVER.deploy(deploy_event("payments-api", "succeeded"))) == [
        ("DeploySeen", "payments-api")
    ]
    assert OBSERVER.deploy(deploy_event("payments-api", "succeeded", "staging")) == []
    assert OBSERVER.deploy(deploy_event("payments-api", "cancelled")) == []
    assert kinds(OBSERVER.deploy(deploy_event("payments-api", "failed"))) == [
        ("FailureSeen", "payments-api")
    ]
    assert kinds(OBSERVER.deploy(deploy_event("ledger", "started", "staging"))) == [
        ("DeploySeen", "ledger"),
        ("DeploySeen", "payments-api"),
    ]


def test_a_service_the_catalog_does_not_know_is_used_as_sent() -> None:
    assert kinds(OBSERVER.deploy(deploy_event("billing", "succeeded"))) == [
        ("DeploySeen", "billing")
    ]
    assert kinds(OBSERVER.incident(incident_event("billing"))) == [("IncidentSeen", "billing")]


def test_incidents_map_pagerduty_service_ids_to_every_catalog_service() -> None:
    found = OBSERVER.incident(incident_event("PSHARED"))
    assert kinds(found) == [("IncidentSeen", "ledger"), ("IncidentSeen", "search")]
    assert all(isinstance(o, IncidentSeen) and o.source_service == "PSHARED" for o in found)
    assert kinds(OBSERVER.incident(incident_event("payments-api"))) == [
        ("IncidentSeen", "payments-api")
    ]


def test_pipelines_match_by_tag_and_by_repository_in_any_form() -> None:
    assert kinds(OBSERVER.build(build("anything", "failed", tags=("search",)))) == [
        ("FailureSeen", "search")
    ]
    by_repo = build("ledger-ci", "failed", repository="https://GitHub.com/acme/ledger.git/")
    assert kinds(OBSERVER.build(by_repo)) == [("FailureSeen", "ledger")]
    assert OBSERVER.build(build("unknown", "failed")) == []


def test_test_runs_with_failures_go_to_the_services_of_the_pipeline_and_suite() -> None:
    run = TestRun(
        event_id="e5",
        pipeline="other",
        build_id="b-uuid",
        suite="payments-pytest",
        executions=10,
        failed_tests=["t1"],
        known_flaky_failed=["t1"],
        at=T,
    )
    (seen,) = OBSERVER.test_run(run)
    assert isinstance(seen, TestRunSeen)
    assert seen.service == "payments-api"
    assert OBSERVER.test_run(run.model_copy(update={"failed_tests": []})) == []


def test_a_test_run_carries_its_full_failed_count_to_the_correlator() -> None:
    listed = [f"t{n}" for n in range(100)]
    run = TestRun(
        event_id="e6",
        pipeline="payments-api",
        build_id="b1",
        build_number="1",
        suite="payments-pytest",
        executions=400,
        failed_count=130,
        failed_tests=listed,
        known_flaky_failed=listed,
        at=T,
    )
    assert not run.all_failures_known_flaky
    (seen,) = OBSERVER.test_run(run)
    assert isinstance(seen, TestRunSeen)
    assert seen.failed_count == 130
    assert not seen.lists_every_failure
    (alert,) = play([seen, failure(10), deploy(0), incident(25)])
    assert alert.failing_tests_known_flaky is False
    assert alert.severity == "critical"
