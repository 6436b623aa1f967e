"""The two stages as :class:`~services.common.processor.PartitionTask` s.

::

    buildkite.builds ─┐
    buildkite.jobs ───┤   stage 1: RepartitionTask     kitestream.correlator-repartition
    deploys ──────────┼──▶ (stateless, by catalog) ──▶ key = service ──┐
    incidents ────────┤                                                 │
    tests.runs ───────┘                                                 ▼
                          stage 2: CorrelationTask ──▶ alerts (key = service)
                          (state per service)      ──▶ kitestream.correlator-changelog

Both run on the shared transactional runtime, so each stage's outputs, changelog
records and input offsets commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas.buildkite import BuildEvent, JobEvent
from schemas.flakiness import TestRun
from schemas.operations import DeployEvent, IncidentEvent
from services.catalog import Catalog, CatalogError, load_catalog
from services.common.processor import Change, Output, Record
from services.common.topics import Topic, Topics
from services.correlator.correlate import Correlator
from services.correlator.observations import Observation, decode_observation
from services.correlator.observer import Observer
from services.correlator.windows import Windows

__all__ = ["CatalogHolder", "CorrelationTask", "CorrelatorTopics", "RepartitionTask"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorrelatorTopics:
    """Every topic the correlator reads or writes, under one prefix."""

    builds: str
    jobs: str
    deploys: str
    incidents: str
    test_runs: str
    alerts: str
    dlq: str
    repartition: str
    changelog: str

    @classmethod
    def under(cls, topics: Topics) -> CorrelatorTopics:
        return cls(
            builds=topics.name(Topic.BUILDS),
            jobs=topics.name(Topic.JOBS),
            deploys=topics.name(Topic.DEPLOYS),
            incidents=topics.name(Topic.INCIDENTS),
            test_runs=topics.name(Topic.TEST_RUNS),
            alerts=topics.name(Topic.ALERTS),
            dlq=topics.name(Topic.DLQ),
            repartition=topics.internal("correlator-repartition"),
            changelog=topics.internal("correlator-changelog"),
        )

    @property
    def inputs(self) -> list[str]:
        return [self.builds, self.jobs, self.deploys, self.incidents, self.test_runs]


class CatalogHolder:
    """The current catalog's observer; :meth:`reload` swaps in a new one whole.

    A catalog with errors is not taken: the running one stays, and the errors are
    logged with their lines.
    """

    def __init__(self, path: Path | None, default_branches: list[str]) -> None:
        self.path = path
        self.default_branches = default_branches
        self.observer = Observer(self._load() or Catalog(), default_branches)
        self._unmapped: set[str] = set()

    def _load(self) -> Catalog | None:
        if self.path is None:
            log.warning("no KITESTREAM_CATALOG: only deploys and incidents sent by name can meet")
            return None
        catalog = load_catalog(self.path)
        for warning in catalog.warnings:
            log.warning("catalog: %s", warning)
        log.info("catalog %s: %d services", self.path, len(catalog.services))
        return catalog

    def reload(self) -> bool:
        """Read the catalog again; ``False`` (keeping the old one) when it has errors."""
        try:
            catalog = self._load()
        except CatalogError as exc:
            for problem in exc.problems:
                log.error("catalog not reloaded: %s", problem)
            return False
        self.observer = Observer(catalog or Catalog(), self.default_branches)
        self._unmapped.clear()
        return True

    def note_unmapped(self, pipeline: str) -> None:
        if pipeline not in self._unmapped:
            self._unmapped.add(pipeline)
            log.info("pipeline %s maps to no service in the catalog", pipeline)


class RepartitionTask:
    """Stage 1: decode an input event and write one observation per service it concerns."""

    def __init__(self, names: CorrelatorTopics, catalog: CatalogHolder) -> None:
        self.names = names
        self.catalog = catalog
        self._routes: dict[str, Callable[[bytes], list[Observation]]] = {
            names.builds: self._build,
            names.jobs: self._job,
            names.deploys: lambda raw: self.catalog.observer.deploy(
                DeployEvent.model_validate_json(raw)
            ),
            names.incidents: lambda raw: self.catalog.observer.incident(
                IncidentEvent.model_validate_json(raw)
            ),
            names.test_runs: lambda raw: self.catalog.observer.test_run(
                TestRun.model_validate_json(raw)
            ),
        }

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Stateless: there is no changelog to replay."""

    def process(self, record: Record) -> list[Output]:
        if record.value is None:
            return []
        found = self._routes[record.topic](record.value)
        return [
            Output(self.names.repartition, obs.service.encode(), obs.to_json()) for obs in found
        ]

    def _build(self, raw: bytes) -> list[Observation]:
        event = BuildEvent.model_validate_json(raw)
        found = self.catalog.observer.build(event)
        if not found and event.build.state == "failed":
            pipeline = event.pipeline
            if not self.catalog.observer.catalog.services_for_pipeline(
                pipeline.slug, pipeline.tags, pipeline.repository
            ):
                self.catalog.note_unmapped(pipeline.slug)
        return found

    def _job(self, raw: bytes) -> list[Observation]:
        return self.catalog.observer.job(JobEvent.model_validate_json(raw))


class CorrelationTask:
    """Stage 2: the per-service correlation of one repartition partition."""

    def __init__(self, names: CorrelatorTopics, windows: Windows) -> None:
        self.names = names
        self.correlator = Correlator(windows)

    def restore(self, key: bytes, value: bytes | None) -> None:
        self.correlator.restore(key, value)

    def process(self, record: Record) -> list[Output | Change]:
        """The state changes (the runtime writes them to this partition's changelog)
        and the alerts, keyed by service."""
        if record.value is None:
            return []
        observation = decode_observation(record.value)
        read_at = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
        step = self.correlator.observe(observation, read_at)
        outputs: list[Output | Change] = [Change(key, value) for key, value in step.changes]
        for alert in step.alerts:
            log.info("alert %s: %s", alert.alert_id, alert.summary)
            outputs.append(
                Output(self.names.alerts, (alert.service or "").encode(), alert.to_json())
            )
        return outputs
