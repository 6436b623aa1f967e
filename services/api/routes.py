"""Every path of the query API, declared once: handler, parameters, response shape.

The app (:mod:`services.api.app`) serves :data:`ROUTES`; the OpenAPI document
(:mod:`services.api.openapi`) describes the same list, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.api import alerts, delivery, events, pipelines, quarantine, services, tests
from services.api.ask import Ask
from services.api.pages import Json
from services.api.params import Param

__all__ = ["ROUTES", "Route"]


@dataclass(frozen=True)
class Route:
    """``GET path`` answered by ``handler``; ``schema`` names its response body in the
    OpenAPI components, and ``item`` (for lists) the schema of one item."""

    path: str  # a Starlette path: {name} or {name:path}
    handler: Callable[[Ask], Json]
    operation_id: str
    summary: str
    params: tuple[Param, ...] = ()
    item: str | None = None
    schema: str | None = None
    tag: str = "history"
    suite_scoped: bool = False  # a suite's own token may read it (its suite only)

    @property
    def openapi_path(self) -> str:
        return self.path.replace(":path}", "}")


V1 = "/api/v1"

ROUTES: tuple[Route, ...] = (
    Route(f"{V1}/services", services.list_services, "listServices",
          "Services of the catalog", services.SERVICES_PARAMS, item="Service", tag="services"),
    Route(f"{V1}/services/{{name}}", services.service, "getService",
          "One service: its pipelines, recent builds, deploys, incidents, alerts, flaky tests",
          services.SERVICE_PARAMS, schema="ServiceDetail", tag="services"),
    Route(f"{V1}/services/{{name}}/delivery", delivery.service_delivery, "getServiceDelivery",
          "A service's DORA four keys over a range, tiers, failed deploys, weekly trend",
          delivery.DELIVERY_PARAMS, schema="Delivery", tag="delivery"),
    Route(f"{V1}/teams/{{team}}/delivery", delivery.team_delivery, "getTeamDelivery",
          "The four keys of a team's services taken together, and of each of them",
          delivery.DELIVERY_PARAMS, schema="TeamDelivery", tag="delivery"),
    Route(f"{V1}/pipelines", pipelines.list_pipelines, "listPipelines",
          "Pipelines seen on buildkite.builds and buildkite.jobs", pipelines.PIPELINE_PARAMS,
          item="Pipeline", tag="builds"),
    Route(f"{V1}/pipelines/{{slug}}/builds", pipelines.list_builds, "listBuilds",
          "Builds of a pipeline, newest first", pipelines.BUILD_PARAMS, item="Build",
          tag="builds"),
    Route(f"{V1}/tests", tests.list_tests, "listTests",
          "Tests and steps, by key; search by suite, service, name", tests.TEST_PARAMS,
          item="Test", tag="tests"),
    Route(f"{V1}/tests/flaky", tests.flaky_tests, "listFlakyTests",
          "Tests and steps flagged flaky now, highest score first", tests.FLAKY_PARAMS,
          item="Test", tag="tests"),
    Route(f"{V1}/tests/{{key:path}}/history", tests.test_history, "getTestHistory",
          "A test's days, newest first, each with its flaky evidence and Buildkite links",
          tests.HISTORY_PARAMS, schema="TestHistory", tag="tests"),
    Route(f"{V1}/tests/{{key:path}}/results", tests.list_results, "listTestResults",
          "A test's executions the store kept (failures, retries), newest first",
          tests.RESULT_PARAMS, item="TestResult", tag="tests"),
    Route(f"{V1}/tests/{{key:path}}/quarantine", quarantine.test_quarantine,
          "getTestQuarantine", "A test's quarantine state now and its changes, newest first",
          (quarantine.QUARANTINE_PARAMS[2],), schema="TestQuarantine", tag="quarantine"),
    Route(f"{V1}/tests/{{key:path}}", tests.test, "getTest", "One test or step now",
          schema="Test", tag="tests"),
    Route(f"{V1}/quarantine", quarantine.list_quarantine, "listQuarantine",
          "Tests muted or skipped now (or at `at`), by key", quarantine.QUARANTINE_PARAMS,
          item="Quarantine", tag="quarantine", suite_scoped=True),
    Route(f"{V1}/alerts", alerts.list_alerts, "listAlerts", "Alerts, newest first",
          alerts.ALERT_PARAMS, item="Alert", tag="alerts"),
    Route(f"{V1}/alerts/{{alert_id}}", alerts.alert, "getAlert",
          "One alert and its deliveries", schema="AlertDetail", tag="alerts"),
    Route(f"{V1}/deploys", events.list_deploys, "listDeploys", "Deploys, newest first",
          events.DEPLOY_PARAMS, item="Deploy", tag="deploys and incidents"),
    Route(f"{V1}/incidents", events.list_incidents, "listIncidents",
          "Incidents, newest opened first", events.INCIDENT_PARAMS, item="Incident",
          tag="deploys and incidents"),
)  # fmt: skip
