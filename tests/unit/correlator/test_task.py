"""The two partition tasks and the settings, without Kafka: records in, outputs out."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from schemas.alerts import Alert
from schemas.base import Message
from schemas.operations import DeployEvent, IncidentEvent
from services.common.processor import BatchStep, Output, Record
from services.common.topics import Topics
from services.correlator.settings import CorrelatorSettings
from services.correlator.task import (
    CatalogHolder,
    CorrelationTask,
    CorrelatorTopics,
    RepartitionTask,
)
from services.correlator.windows import Windows
from tests.unit.correlator.timeline import at

NAMES = CorrelatorTopics.under(Topics("p."))
CATALOG = """
services:
  payments-api:
    pipelines: [payments-api]
    pagerduty_services: [PABC123]
"""


def record(topic: str, value: Message | bytes, *, partition: int = 2, offset: int = 0) -> Record:
    raw = value if isinstance(value, bytes) else value.to_json()
    return Record(topic, partition, offset, b"k", raw, int(at(24 * 60).timestamp() * 1000))


def deploy_event() -> DeployEvent:
    return DeployEvent(
        event_id="e1",
        deploy_id="42",
        service="payments-api",
        state="succeeded",
        started_at=at(0),
        received_at=at(1),
    )


def incident_event() -> IncidentEvent:
    return IncidentEvent(
        event_id="e2",
        event="incident.triggered",
        incident_id="Q1",
        service="PABC123",
        title="Checkout 500s",
        status="triggered",
        opened_at=at(20),
        source="pagerduty",
        received_at=at(20),
    )


@pytest.fixture
def holder(tmp_path: Path) -> CatalogHolder:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return CatalogHolder(path, ["main"])


def test_the_repartition_task_keys_each_observation_by_service(holder: CatalogHolder) -> None:
    task = RepartitionTask(NAMES, holder)
    (out,) = task.process(record(NAMES.incidents, incident_event()))
    assert out.topic == "p.kitestream.correlator-repartition"
    assert out.key == b"payments-api"
    assert out.partition is None  # by key, so one service always lands on one partition
    assert orjson.loads(out.value or b"")["type"] == "incident"


def test_a_malformed_input_raises_so_the_runtime_dead_letters_it(holder: CatalogHolder) -> None:
    task = RepartitionTask(NAMES, holder)
    with pytest.raises(ValidationError):
        task.process(record(NAMES.deploys, b'{"not": "a deploy"}'))
    assert task.process(Record(NAMES.deploys, 0, 0, b"k", None, 0)) == []


def test_a_reload_with_errors_keeps_the_catalog_in_use(holder: CatalogHolder) -> None:
    assert holder.path is not None
    holder.path.write_text("services:\n  payments-api:\n    pipeline: [oops]\n")
    assert holder.reload() is False
    assert "payments-api" in holder.observer.catalog.services
    holder.path.write_text(CATALOG.replace("payments-api", "checkout"))
    assert holder.reload() is True
    assert set(holder.observer.catalog.services) == {"checkout"}


def test_the_correlation_task_logs_state_to_its_partition_and_alerts_by_service(
    holder: CatalogHolder,
) -> None:
    stage1 = RepartitionTask(NAMES, holder)
    stage2 = CorrelationTask(NAMES, Windows())
    step = BatchStep(service="correlator", dlq_topic=NAMES.dlq, changelog_topic=NAMES.changelog)
    failure = b"""{"type": "failure", "service": "payments-api", "failure_id": "build:b1",
        "kind": "build", "at": "2026-08-01T10:10:00Z", "title": "payments-api #1 failed"}"""
    outputs: list[Output] = []
    for n, observation in enumerate(
        [
            failure,
            *(o.value for o in stage1.process(record(NAMES.deploys, deploy_event()))),
            *(o.value for o in stage1.process(record(NAMES.incidents, incident_event()))),
        ]
    ):
        assert observation is not None
        outputs += step.run({2: stage2}, [record(NAMES.repartition, observation, offset=n)])
    changelog = [o for o in outputs if o.topic == NAMES.changelog]
    alerts = [o for o in outputs if o.topic == NAMES.alerts]
    assert changelog
    assert all(o.partition == 2 for o in changelog)
    (alert,) = alerts
    assert alert.key == b"payments-api"
    assert Alert.model_validate_json(alert.value or b"").created_at == at(24 * 60)
    restored = CorrelationTask(NAMES, Windows())
    for out in changelog:
        assert out.key is not None
        restored.restore(out.key, out.value)
    assert restored.correlator.services == stage2.correlator.services


def test_every_window_is_a_correlator_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_CORRELATOR_FAILURE_WINDOW_MINUTES", "30")
    monkeypatch.setenv("KITESTREAM_CORRELATOR_INCIDENT_WINDOW_MINUTES", "45")
    monkeypatch.setenv("KITESTREAM_CORRELATOR_RETENTION_HOURS", "2")
    monkeypatch.setenv("KITESTREAM_CORRELATOR_DEFAULT_BRANCHES", "trunk, main")
    settings = CorrelatorSettings()
    windows = settings.windows()
    assert (windows.failure.total_seconds(), windows.incident.total_seconds()) == (1800, 2700)
    assert windows.retention.total_seconds() == 7200
    assert settings.default_branches == ["trunk", "main"]


def test_a_retention_shorter_than_the_windows_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_CORRELATOR_RETENTION_HOURS", "1")
    with pytest.raises(ValidationError, match="must cover"):
        CorrelatorSettings()
