"""Loading a catalog: the YAML keys, each import format, and errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalog import CatalogError, load_catalog

FIXTURES = Path(__file__).parents[2] / "fixtures" / "catalog"
FULL = FIXTURES / "full" / "catalog.yaml"


def write(tmp_path: Path, text: str, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    return [f"{p.line}: {p.message}" for p in caught.value.problems]


def test_every_design_key_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  payments-api:
    pipelines: [payments-api]
    pipeline_tags: [team-payments]
    repositories: [git@github.com:acme/payments-api.git]
    deploy_pipelines: [payments-api-deploy]
    deploy_steps: [deploy-production]
    test_suites: [payments-pytest]
    pagerduty_services: [PABC123]
    depends_on: [ledger]
    environments: [production]
    team: payments
  ledger:
    pipelines: ledger          # a single string is a list of one
""",
    )
    service = load_catalog(path).services["payments-api"]
    assert service.pipelines == {"payments-api"}
    assert service.pipeline_tags == {"team-payments"}
    assert service.repositories == {"github.com/acme/payments-api"}
    assert service.deploy_pipelines == {"payments-api-deploy"}
    assert service.deploy_steps == {"deploy-production"}
    assert service.test_suites == {"payments-pytest"}
    assert service.pagerduty_services == {"PABC123"}
    assert service.depends_on == {"ledger"}
    assert service.environments == {"production"}
    assert service.team == "payments"
    assert load_catalog(path).services["ledger"].pipelines == {"ledger"}


def test_cortex_descriptors_are_imported_and_merged_with_the_yaml() -> None:
    catalog = load_catalog(FULL)
    payments = catalog.services["payments-api"]
    # from the YAML
    assert payments.deploy_pipelines == {"payments-api-deploy"}
    assert payments.team == "payments"  # the YAML's team wins over Cortex's
    # from cortex/payments.yaml (OpenAPI form, under info)
    assert payments.pipelines == {"payments-api", "payments-api-nightly"}
    assert payments.pipeline_tags == {"team-payments"}
    assert payments.repositories == {"github.com/acme/payments-api"}
    assert payments.pagerduty_services == {"PABC123"}


def test_a_cortex_entity_without_buildkite_pipelines_matches_its_own_tag_and_repository() -> None:
    ledger = load_catalog(FULL).services["ledger"]
    assert ledger.pipeline_tags == {"ledger"}
    assert ledger.repositories == {"gitlab.com/acme/core/ledger"}
    assert ledger.team == "core-banking"
    assert ledger.pagerduty_services == {"PLED001"}
    assert ledger.depends_on == {"postgres-main"}


def test_cortex_teams_are_skipped_and_only_simple_ownership_names_a_team() -> None:
    catalog = load_catalog(FULL)
    assert "payments-team" not in catalog.services
    search = catalog.services["search"]
    assert search.team is None  # two owning groups
    assert search.pagerduty_services == frozenset()  # a schedule is not a service
    assert search.pipeline_tags == {"search"}


def test_an_unknown_cortex_dependency_is_a_warning_not_an_error() -> None:
    catalog = load_catalog(FULL)
    assert [(w.file.name, w.line) for w in catalog.warnings] == [("ledger.yml", 15)]
    assert "postgres-main" in catalog.warnings[0].message


def test_resource_files_list_pipelines_suites_and_pagerduty_services() -> None:
    catalog = load_catalog(FULL)
    assert catalog.pipelines["ledger-ci"].default_branch == "trunk"
    assert catalog.pipelines["ledger-ci"].repository == "gitlab.com/acme/core/ledger"
    assert catalog.pipelines["payments-api"].tags == {"team-payments"}
    assert set(catalog.suites) == {"payments-pytest", "orphan-jest"}
    assert catalog.pagerduty_names["PZZZ999"] == "Old mainframe"


def test_errors_are_reported_all_at_once_with_line_numbers() -> None:
    assert errors_of(FIXTURES / "broken" / "catalog.yaml") == [
        "3: unknown key 'pipeline' in service 'payments-api' (did you mean 'pipelines'?); "
        "known: pipelines, pipeline_tags, repositories, deploy_pipelines, deploy_steps, "
        "test_suites, pagerduty_services, depends_on, environments, team",
        "6: ledger: 'not a url' is not a Git repository URL",
        "7: ledger.deploy_steps must be a list",
        f"9: 'missing-folder/' does not exist ({FIXTURES / 'broken' / 'missing-folder'})",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "services:\n  a:\n    pipelines: [a]\n  a:\n    pipelines: [b]\n",
            "4: services: 'a' is given twice",
        ),
        (
            "services:\n  a:\n    pipelines: [a\n",
            "4: not valid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "services:\n  a:\n    depends_on: [b]\n    pipelines: [a]\n",
            "3: a depends on 'b', which is not in the catalog",
        ),
        ("services:\n  a:\n    depends_on: [a]\n    pipelines: [a]\n", "3: a depends on itself"),
        (
            "services:\n  a:\n    pipelines: [{slug: a}]\n",
            "3: each entry of a.pipelines must be a non-empty string",
        ),
        ("services: []\n", "1: services must be a mapping"),
        (
            "service:\n  a: {}\n",
            "1: unknown key 'service' in the catalog (did you mean 'services'?); "
            "known: services, include",
        ),
        (
            "services:\n  a:\n    team: [x]\n    pipelines: [a]\n",
            "3: a.team must be a non-empty string",
        ),
        (
            "services:\n  a: {pipelines: [a]}\ninclude:\n  cortx: [x]\n",
            "4: unknown key 'cortx' in include (did you mean 'cortex'?); "
            "known: cortex, pipelines_json, test_suites_json, pagerduty_json",
        ),
    ],
)
def test_each_mistake_is_an_error_at_its_line(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in errors_of(write(tmp_path, text))


def test_an_empty_catalog_file_is_an_error(tmp_path: Path) -> None:
    assert errors_of(write(tmp_path, "")) == ["1: the file is empty"]


def test_a_broken_json_include_is_an_error_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, '[\n  {"slug": "a"},\n  {"slug": }\n]\n', "resources/pipelines.json")
    write(tmp_path, '[{"name": "no slug"}]\n', "resources/test_suites.json")
    path = write(
        tmp_path,
        "services:\n  a: {pipelines: [a]}\ninclude:\n"
        "  pipelines_json: [resources/pipelines.json]\n"
        "  test_suites_json: resources/test_suites.json\n",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert [(p.file.name, p.line, p.message) for p in caught.value.problems] == [
        ("pipelines.json", 3, "not valid JSON: Expecting value"),
        ("test_suites.json", 1, "an entry without a slug"),
    ]


def test_includes_take_globs_and_a_glob_matching_nothing_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "info:\n  x-cortex-tag: billing\n", "cortex/billing.yaml")
    write(tmp_path, "openapi: 3.0.1\ninfo:\n  title: no tag\n", "cortex/notes.yaml")
    path = write(
        tmp_path,
        "services:\n  a: {pipelines: [a]}\ninclude:\n  cortex: ['cortex/*.yaml', 'more/*.yml']\n",
    )
    catalog = load_catalog(path)
    assert catalog.services["billing"].pipeline_tags == {"billing"}
    assert sorted((w.file.name, w.line) for w in catalog.warnings) == [
        ("catalog.yaml", 4),  # more/*.yml matches nothing
        ("notes.yaml", 1),  # not a Cortex entity
    ]


def test_a_service_nothing_maps_to_is_a_warning(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, "services:\n  a: {pagerduty_services: [P1]}\n"))
    assert [str(w) for w in catalog.warnings] == [
        f"{tmp_path / 'catalog.yaml'}:2: a: no pipeline maps to this service"
    ]


def test_json_files_indented_with_tabs_are_read(tmp_path: Path) -> None:
    write(tmp_path, '[\n\t{\n\t\t"slug": "tabbed"\n\t}\n]\n', "pipelines.json")
    path = write(
        tmp_path, "services:\n  a: {pipelines: [a]}\ninclude:\n  pipelines_json: [pipelines.json]\n"
    )
    assert set(load_catalog(path).pipelines) == {"tabbed"}


def test_cortex_git_providers_give_their_hosts(tmp_path: Path) -> None:
    for name, git in [
        ("bb", "bitbucket: {repository: acme/bb}"),
        ("az", "azure: {project: Payments, repository: az}"),
    ]:
        write(
            tmp_path,
            f"info:\n  x-cortex-tag: {name}\n  x-cortex-git:\n    {git}\n",
            f"c/{name}.yaml",
        )
    path = write(tmp_path, "services:\n  a: {pipelines: [a]}\ninclude:\n  cortex: [c/]\n")
    services = load_catalog(path).services
    assert services["bb"].repositories == {"bitbucket.org/acme/bb"}
    assert services["az"].repositories == {"dev.azure.com/payments/az"}
    catalog = load_catalog(path)
    assert catalog.services_for_pipeline("x", repository="git@bitbucket.org:acme/bb.git") == {"bb"}
    azure_url = "git@ssh.dev.azure.com:v3/acme/Payments/az"  # the org is not in Cortex's name
    assert catalog.services_for_pipeline("x", repository=azure_url) == {"az"}
