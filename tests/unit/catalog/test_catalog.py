"""The questions the correlator and the dispatcher ask a loaded catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalog import Catalog, load_catalog

FULL = Path(__file__).parents[2] / "fixtures" / "catalog" / "full" / "catalog.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(FULL)


def test_pipelines_map_by_slug_including_deploy_pipelines(catalog: Catalog) -> None:
    assert catalog.services_for_pipeline("payments-api") == {"payments-api"}
    assert catalog.services_for_pipeline("Payments-API-Nightly") == {"payments-api"}
    assert catalog.services_for_pipeline("payments-api-deploy") == {"payments-api"}
    assert catalog.services_for_pipeline("unknown") == frozenset()


def test_pipelines_map_by_tag(catalog: Catalog) -> None:
    assert catalog.services_for_pipeline("x", tags=["team-payments"]) == {"payments-api"}
    assert catalog.services_for_pipeline("x", tags=["search", "nope"]) == {"search"}


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:acme/checkout.git",
        "ssh://git@github.com/acme/checkout",
        "https://github.com/acme/checkout.git",
        "https://GITHUB.com/acme/checkout/",
    ],
)
def test_pipelines_map_by_repository_in_any_git_url_form(catalog: Catalog, url: str) -> None:
    assert catalog.services_for_pipeline("checkout-ci", repository=url) == {"checkout"}


def test_what_pipelines_json_says_of_a_slug_counts_like_the_event(catalog: Catalog) -> None:
    assert catalog.services_for_pipeline("ledger-ci") == {"ledger"}  # by its repository
    assert catalog.services_for_pipeline("search-indexer") == {"search"}  # by its tag
    assert catalog.default_branch("ledger-ci") == "trunk"
    assert catalog.default_branch("unknown") is None


def test_a_pipeline_can_belong_to_several_services(catalog: Catalog) -> None:
    found = catalog.services_for_pipeline(
        "monorepo", tags=["search"], repository="git@github.com:acme/checkout.git"
    )
    assert found == {"search", "checkout"}


def test_deploys_are_deploy_pipelines_or_deploy_step_keys(catalog: Catalog) -> None:
    assert catalog.is_deploy("payments-api", pipeline="payments-api-deploy")
    assert not catalog.is_deploy("payments-api", pipeline="payments-api")
    assert catalog.is_deploy("checkout", pipeline="checkout-ci", step_key="deploy-production")
    assert not catalog.is_deploy("checkout", pipeline="checkout-ci", step_key="tests")
    assert not catalog.is_deploy("nobody", pipeline="payments-api-deploy")


def test_environments_limit_which_deploys_count(catalog: Catalog) -> None:
    assert catalog.deploy_counts("payments-api", "production")
    assert not catalog.deploy_counts("payments-api", "staging")
    assert catalog.deploy_counts("payments-api", None)
    assert catalog.deploy_counts("checkout", "staging")  # lists no environments
    assert catalog.deploy_counts("unknown", "staging")


def test_pagerduty_suites_dependents_and_teams(catalog: Catalog) -> None:
    assert catalog.services_for_pagerduty("PABC123") == {"payments-api"}
    assert catalog.services_for_pagerduty("PZZZ999") == frozenset()
    assert catalog.services_for_suite("payments-pytest") == {"payments-api"}
    assert catalog.dependents("ledger") == {"payments-api"}
    assert catalog.dependents("payments-api") == frozenset()
    assert catalog.team_of("payments-api") == "payments"
    assert catalog.team_of("checkout") is None
    assert catalog.team_of("unknown") is None


def test_what_the_resource_files_list_and_nothing_claims_is_unmapped(catalog: Catalog) -> None:
    assert [p.slug for p in catalog.unmapped_pipelines()] == ["legacy-cron"]
    assert [s.slug for s in catalog.unmapped_suites()] == ["orphan-jest"]
    assert catalog.unmapped_pagerduty() == [("PZZZ999", "Old mainframe")]
