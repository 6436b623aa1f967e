"""Every spelling of a Git repository normalises to one name."""

from __future__ import annotations

import pytest

from services.catalog.repository import normalise_repository

SAME = [
    "git@github.com:acme/payments-api.git",
    "git@github.com:acme/payments-api",
    "ssh://git@github.com/acme/payments-api.git",
    "ssh://git@github.com:22/acme/payments-api.git",
    "git+ssh://git@github.com/acme/payments-api",
    "https://github.com/acme/payments-api",
    "https://github.com/acme/payments-api.git",
    "https://github.com/acme/payments-api/",
    "https://github.com/acme/payments-api.git/",
    "https://x-access-token:secret@GitHub.com/Acme/Payments-API.git",
    "http://github.com/acme/payments-api",
    "git://github.com/acme/payments-api.git",
    "github.com/acme/payments-api",
    "  GITHUB.COM/acme/payments-api  ",
]


@pytest.mark.parametrize("url", SAME)
def test_every_git_url_form_names_the_same_repository(url: str) -> None:
    assert normalise_repository(url) == "github.com/acme/payments-api"


def test_nested_groups_and_azure_devops_forms_meet() -> None:
    assert (
        normalise_repository("git@gitlab.com:acme/core/ledger.git") == "gitlab.com/acme/core/ledger"
    )
    assert (
        normalise_repository("https://dev.azure.com/acme/Payments/_git/api")
        == normalise_repository("git@ssh.dev.azure.com:v3/acme/Payments/api")
        == "dev.azure.com/acme/payments/api"
    )


def test_a_host_less_name_needs_a_default_host() -> None:
    assert normalise_repository("acme/payments-api") is None
    assert (
        normalise_repository("acme/payments-api", default_host="github.com")
        == "github.com/acme/payments-api"
    )


@pytest.mark.parametrize("text", ["", "   ", "not a url", "https://github.com/", "payments"])
def test_text_that_names_no_repository_is_none(text: str) -> None:
    assert normalise_repository(text) is None
