"""Multipart bodies are read whole, or refused: a truncated upload must not lose tests."""

from __future__ import annotations

import pytest

from services.ingest.errors import MalformedBody, PayloadTooLarge
from services.ingest.form import MAX_PARTS, parse_form
from tests.unit.ingest.payloads import multipart


def _boundary(content_type: str) -> str:
    return content_type.split("boundary=", 1)[1]


def test_fields_and_files_are_read_with_names_and_filenames() -> None:
    body, ctype = multipart(
        {"format": "junit", "run_env[CI]": "buildkite", "run_env[key]": "b-1"},
        {"data": ("junit.xml", b"<testsuite/>\r\n--not-a-boundary")},
    )
    form = parse_form(body, _boundary(ctype))
    assert form.get("format") == "junit"
    assert form.fields_with_prefix("run_env") == {"CI": "buildkite", "key": "b-1"}
    [data] = form.files("data")
    assert data.filename == "junit.xml"
    assert data.data == b"<testsuite/>\r\n--not-a-boundary"
    assert form.get("missing") is None


def test_a_body_cut_before_the_closing_boundary_is_malformed() -> None:
    body, ctype = multipart({"format": "json"}, {"data": ("t.json", b"[]" * 500)})
    with pytest.raises(MalformedBody, match="truncated"):
        parse_form(body[: len(body) - 40], _boundary(ctype))


def test_a_body_with_another_boundary_is_malformed() -> None:
    body, _ = multipart({"format": "json"}, {"data": ("t.json", b"[]")}, boundary="aaaa")
    with pytest.raises(MalformedBody):
        parse_form(body, "bbbb")


def test_multipart_without_a_boundary_is_malformed() -> None:
    with pytest.raises(MalformedBody, match="boundary"):
        parse_form(b"--x\r\n", None)


def test_a_part_without_a_name_is_malformed() -> None:
    body = b'--b\r\nContent-Disposition: attachment; filename="x"\r\n\r\nzz\r\n--b--\r\n'
    with pytest.raises(MalformedBody, match="Content-Disposition"):
        parse_form(body, "b")


def test_garbage_instead_of_parts_is_malformed() -> None:
    with pytest.raises(MalformedBody):
        parse_form(b"this is not multipart at all", "b")


def test_too_many_parts_is_413() -> None:
    body, ctype = multipart({f"f{i}": "v" for i in range(MAX_PARTS + 1)}, {})
    with pytest.raises(PayloadTooLarge):
        parse_form(body, _boundary(ctype))


def test_field_and_file_names_in_utf8_are_read_as_utf8() -> None:
    body, ctype = multipart(
        {"données": "ja", "run_env[message]": "Prüfung grün"},
        {"data": ("résultats.xml", b"<testsuite/>")},
    )
    form = parse_form(body, _boundary(ctype))
    assert form.get("données") == "ja"
    assert form.fields_with_prefix("run_env") == {"message": "Prüfung grün"}
    [data] = form.files("data")
    assert data.filename == "résultats.xml"
