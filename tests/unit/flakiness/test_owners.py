"""Flaky alerts name the catalog service their test's suite, or pipeline, belongs to."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.alerts import Alert
from services.catalog import CatalogError, load_catalog
from services.common.topics import Topics
from services.flakiness.execution import StepSubject, Subject, TestSubject
from services.flakiness.owners import Owners, service_of
from services.flakiness.settings import FlakinessSettings
from services.flakiness.task import FlakinessTask, FlakinessTopics
from tests.unit.flakiness.stream import CLEAR_AFTER_RUNS, Project, project_stream
from tests.unit.flakiness.test_task import records, run

CATALOG = """
services:
  payments-api:
    test_suites: [pytest]
  web:
    pipeline_tags: [frontend]
  checkout:
    pipelines: [payments-api]
  shared-b:
    test_suites: [monorepo]
  shared-a:
    test_suites: [monorepo]
"""
PIPELINES_JSON = '[{"slug": "web-app", "tags": ["frontend"]}]'


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    (tmp_path / "pipelines.json").write_text(PIPELINES_JSON)
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG + "include:\n  pipelines_json: [pipelines.json]\n")
    return path


def a_test(suite: str) -> TestSubject:
    return TestSubject(suite, "tests.test_checkout", "test_total")


def test_a_test_belongs_to_the_service_that_lists_its_suite(catalog_file: Path) -> None:
    catalog = load_catalog(catalog_file)
    assert service_of(catalog, a_test("pytest"), ["web-app"]) == "payments-api"


def test_a_test_of_an_unlisted_suite_belongs_to_its_newest_mapped_pipeline(
    catalog_file: Path,
) -> None:
    catalog = load_catalog(catalog_file)
    assert service_of(catalog, a_test("jest"), ["web-app", "payments-api"]) == "web"  # by tag
    assert service_of(catalog, a_test("jest"), ["unknown", "payments-api"]) == "checkout"
    assert service_of(catalog, a_test("jest"), ["unknown"]) is None
    assert service_of(catalog, a_test("jest"), []) is None


def test_a_step_belongs_to_the_service_its_pipeline_maps_to(catalog_file: Path) -> None:
    catalog = load_catalog(catalog_file)
    assert service_of(catalog, StepSubject("payments-api", "unit-tests"), []) == "checkout"
    assert service_of(catalog, StepSubject("web-app", "lint"), []) == "web"
    assert service_of(catalog, StepSubject("other", "lint"), []) is None


def test_of_several_services_the_first_by_name_is_taken(catalog_file: Path) -> None:
    assert service_of(load_catalog(catalog_file), a_test("monorepo"), []) == "shared-a"


def test_without_a_catalog_no_alert_names_a_service() -> None:
    assert Owners.load(None).service_of(a_test("pytest"), ["payments-api"]) is None


def test_a_reload_swaps_the_catalog_and_one_with_errors_keeps_the_old(
    catalog_file: Path,
) -> None:
    owners = Owners.load(catalog_file)
    catalog_file.write_text("services:\n  billing:\n    test_suites: [pytest]\n")
    assert owners.service_of(a_test("pytest")) == "payments-api"  # read at start only
    assert owners.reload()
    assert owners.service_of(a_test("pytest")) == "billing"
    catalog_file.write_text("services:\n  billing:\n    test_suite: [pytest]\n")  # a typo
    assert not owners.reload()
    assert owners.service_of(a_test("pytest")) == "billing"


def test_a_catalog_with_errors_at_start_is_refused(catalog_file: Path) -> None:
    catalog_file.write_text("services: [not, a, mapping]\n")
    with pytest.raises(CatalogError):
        Owners.load(catalog_file)


def test_flaky_and_recovered_alerts_of_the_stream_carry_their_service(
    catalog_file: Path,
) -> None:
    # pytest tests by suite; jest tests by the pipeline their builds ran on (web-app,
    # tagged frontend); steps by pipeline.
    projects = [Project("pytest", "payments-api"), Project("jest", "web-app")]
    names = FlakinessTopics.under(Topics("t."))
    settings = FlakinessSettings(clear_after_runs=CLEAR_AFTER_RUNS)
    task = FlakinessTask(0, names, settings, owners=Owners.load(catalog_file))
    stream = records([i for p in projects for i in project_stream(p)])
    alerts = [
        Alert.model_validate_json(o.value or b"")
        for o in run(task, stream)
        if o.topic == names.alerts
    ]
    found = {(a.test["key"], a.kind): a.service for a in alerts}
    pytest_project, jest_project = projects
    owners: dict[Subject, str] = {
        pytest_project.test("test_rerun"): "payments-api",
        pytest_project.test("test_rebuild"): "payments-api",
        pytest_project.step: "checkout",
        jest_project.test("test_rerun"): "web",
        jest_project.test("test_rebuild"): "web",
        jest_project.step: "web",
    }
    kinds = ("flaky_test", "flaky_test_recovered")
    assert found == {(s.key, kind): owner for s, owner in owners.items() for kind in kinds}


def test_the_processor_reads_the_shared_catalog_variable(
    catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.flakiness.settings import ServiceSettings

    monkeypatch.setenv("KITESTREAM_CATALOG", str(catalog_file))
    assert ServiceSettings().catalog == catalog_file
