"""JUnit XML: every testcase, every rerun as its own execution, and no XML attack works."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.errors import MalformedBody
from services.ingest.junit import parse_junit
from services.ingest.results import Execution
from tests.unit.ingest.payloads import fixture


def _runs(executions: list[Execution], name: str) -> list[tuple[str, str | None]]:
    return [(e.result, e.failure_reason) for e in executions if e.name == name]


def test_pytest_junit_gives_name_classname_file_line_time_and_outcome() -> None:
    executions, errors = parse_junit(fixture("junit/pytest_xunit1.xml"))
    assert errors == []
    passed, failed, skipped = executions
    assert (passed.scope, passed.name) == ("test_sample.TestCheckout", "test_total_adds_tax")
    assert (passed.file_name, passed.location) == ("test_sample.py", "test_sample.py:3")
    assert passed.result == "passed"
    assert passed.duration_s == pytest.approx(0.001)
    assert failed.result == "failed"
    assert failed.failure_reason == "AssertionError: discount should be 20"
    [(lines, backtrace)] = failed.failure_expanded
    assert lines[-1] == "test_sample.py:8: AssertionError"
    assert backtrace == []
    assert skipped.result == "skipped"
    assert skipped.failure_reason is None


def test_surefire_flaky_failure_then_pass_is_two_executions() -> None:
    executions, _ = parse_junit(fixture("junit/surefire_reruns.xml"))
    assert _runs(executions, "retriesGatewayTimeout") == [
        ("failed", "Expected: is <200>"),
        ("passed", None),
    ]
    flaky = next(e for e in executions if e.name == "retriesGatewayTimeout")
    [(trace, _)] = flaky.failure_expanded
    assert "CheckoutServiceTest.java:58" in trace[-1]
    assert not any("gateway answered" in line for line in trace)  # system-out is not the trace


def test_surefire_failure_with_reruns_is_one_execution_per_run() -> None:
    executions, _ = parse_junit(fixture("junit/surefire_reruns.xml"))
    assert [r for r, _ in _runs(executions, "refundsPartialAmount")] == ["failed"] * 3
    assert [r for r, _ in _runs(executions, "connectsToLedger")] == ["failed"] * 2
    first = next(e for e in executions if e.name == "refundsPartialAmount")
    assert first.duration_s == pytest.approx(0.733)  # the testcase's time is the first run's
    assert _runs(executions, "supportsSepa") == [("skipped", None)]
    assert _runs(executions, "chargesCardOnce") == [("passed", None)]
    assert len(executions) == 9


def test_pytest_rerunfailures_flaky_pass_and_final_failure() -> None:
    executions, _ = parse_junit(fixture("junit/pytest_rerunfailures.xml"))
    assert [r for r, _ in _runs(executions, "test_sync_is_idempotent")] == [
        "failed",
        "failed",
        "passed",
    ]
    assert [r for r, _ in _runs(executions, "test_export_times_out")] == ["failed", "failed"]
    final = [e for e in executions if e.name == "test_export_times_out"][-1]
    assert final.duration_s == pytest.approx(1.502)


def test_nested_suites_lend_their_name_and_file_to_their_testcases() -> None:
    executions, _ = parse_junit(fixture("junit/nested_suites.xml"))
    by_name = {e.name: e for e in executions}
    assert [e.name for e in executions] == [
        "includes tax",
        "rounds to cents",
        "empties on checkout",
        "DISABLED_LoadsLegacyCart",
    ]
    assert by_name["includes tax"].scope == "totals"
    assert by_name["includes tax"].file_name == "src/cart/cart.spec.ts"
    assert by_name["empties on checkout"].scope == "cart.lifecycle"
    assert by_name["rounds to cents"].failure_reason == "Expected: 10.01"
    assert by_name["DISABLED_LoadsLegacyCart"].result == "skipped"  # gtest status="notrun"


def test_a_testcase_without_a_name_is_reported_not_queued() -> None:
    xml = b'<testsuite name="s"><testcase classname="c"/><testcase name="ok"/></testsuite>'
    executions, errors = parse_junit(xml)
    assert [e.name for e in executions] == ["ok"]
    assert errors == ["a testcase in suite 's' has no name"]


def test_a_single_testcase_root_and_namespaced_tags_are_read() -> None:
    xml = b'<j:testcase xmlns:j="urn:x" name="solo" time="1,234.5"><j:error type="Boom"/>'
    xml += b"</j:testcase>"
    [execution], _ = parse_junit(xml)
    assert execution.result == "failed"
    assert execution.failure_reason == "Boom"
    assert execution.duration_s == pytest.approx(1234.5)


def test_unreadable_times_are_left_out() -> None:
    xml = b'<testsuite><testcase name="a" time="soon"/><testcase name="b" time="-1"/></testsuite>'
    assert [e.duration_s for e in parse_junit(xml)[0]] == [None, None]


def test_malformed_xml_is_400() -> None:
    with pytest.raises(MalformedBody, match="malformed"):
        parse_junit(fixture("junit/malformed.xml"))


@pytest.mark.parametrize("xml", [b"", b"not xml", b"<testsuite>", b"\xff\xfe<a/>"])
def test_anything_not_xml_is_400(xml: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_junit(xml)


def test_xml_that_is_not_junit_is_400() -> None:
    with pytest.raises(MalformedBody, match="root element is <html>"):
        parse_junit(b"<html><body>502 Bad Gateway</body></html>")


def test_billion_laughs_is_refused_without_expanding() -> None:
    with pytest.raises(MalformedBody, match="EntitiesForbidden"):
        parse_junit(fixture("junit/billion_laughs.xml"))


def test_quadratic_blowup_is_refused() -> None:
    entity = "A" * 100_000
    references = "&a;" * 10_000
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "{entity}">]>'
        f'<testsuite><testcase name="x"><failure message="{references}"/></testcase></testsuite>'
    ).encode()
    with pytest.raises(MalformedBody, match="unsafe"):
        parse_junit(xml)


def test_external_entity_is_refused() -> None:
    with pytest.raises(MalformedBody, match="unsafe"):
        parse_junit(fixture("junit/external_entity.xml"))


def test_an_external_dtd_is_never_loaded(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak "contents-of-the-dtd">')
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE testsuite SYSTEM "{dtd.as_uri()}">'
        '<testsuite><testcase name="t"><failure message="&leak;"/></testcase></testsuite>'
    ).encode()
    try:
        executions, _ = parse_junit(xml)
    except MalformedBody:
        return  # refused: nothing was read
    assert all("contents-of-the-dtd" not in (e.failure_reason or "") for e in executions)


def test_an_external_dtd_reference_alone_does_not_stop_parsing() -> None:
    executions, _ = parse_junit(fixture("junit/external_dtd.xml"))
    assert [(e.name, e.result) for e in executions] == [("fetch", "passed")]


def test_very_deep_nesting_does_not_exhaust_recursion() -> None:
    depth = 20_000
    xml = b"<testsuites>" + b"<testsuite>" * depth + b'<testcase name="deep"/>'
    xml += b"</testsuite>" * depth + b"</testsuites>"
    [execution], _ = parse_junit(xml)
    assert execution.name == "deep"
