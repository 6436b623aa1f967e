"""One exception tree for every refusal: status and code defined once, one error body."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import BaseModel, ValidationError

from services.ingest import errors
from services.ingest.auth import check_bearer
from services.ingest.errors import HttpError, InvalidPayload
from services.ingest.junit import parse_junit
from services.ingest.request import gunzip


def test_every_refusal_has_its_status_code_and_contract_body() -> None:
    refusals = {
        cls.__name__: (cls.status, cls.code)
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, HttpError) and cls is not HttpError
    }
    assert refusals == {
        "Unauthorized": (401, "unauthorized"),
        "MalformedBody": (400, "malformed_body"),
        "RequestTimeout": (408, "request_timeout"),
        "PayloadTooLarge": (413, "payload_too_large"),
        "UnsupportedMedia": (415, "unsupported_media_type"),
        "InvalidPayload": (422, "invalid_payload"),
        "Unavailable": (503, "unavailable"),
    }
    assert errors.MalformedBody("not JSON").to_body() == {
        "error": "malformed_body",
        "detail": "not JSON",
    }


@pytest.mark.parametrize(
    ("refuse", "expected"),
    [
        (lambda: check_bearer({"authorization": "Bearer x"}, ["y"]), errors.Unauthorized),
        (lambda: parse_junit(b"<testsuite>"), errors.MalformedBody),
        (lambda: gunzip(b"\x1f\x8b" + b"\x00" * 20), errors.MalformedBody),
    ],
)
def test_the_ingest_parsers_raise_the_classes_of_the_one_tree(
    refuse: Callable[[], object], expected: type[HttpError]
) -> None:
    with pytest.raises(expected):
        refuse()


class _Deploy(BaseModel):
    service: str
    state: str


def test_a_validation_error_becomes_422_naming_the_first_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        _Deploy.model_validate({"service": "s"})
    refusal = InvalidPayload.from_validation("deploy", caught.value)
    assert refusal.status == 422
    assert refusal.detail == "deploy: state: Field required"
