"""POST /v1/uploads as each collector sends it, and every way a request is refused."""

from __future__ import annotations

import orjson
import pytest

from schemas.tests import TestResult
from services.ingest.auth import SuiteTokens
from services.ingest.errors import (
    InvalidPayload,
    MalformedBody,
    PayloadTooLarge,
    Unauthorized,
)
from services.ingest.request import Headers
from services.ingest.results import DEFAULT_LIMITS, Limits
from services.ingest.testengine import Upload, read_upload, run_env_from
from tests.unit.ingest.payloads import RECEIVED_AT, fixture, gzipped, multipart

SUITES = SuiteTokens.parse(["payments-pytest=tok-py", "web-jest=tok-js", "ledger-rspec=tok-rb"])
JSON = "application/json"


def _upload(headers: Headers, body: bytes, limits: Limits = DEFAULT_LIMITS) -> Upload:
    """What ``POST /v1/uploads`` makes of a request whose body it read (and inflated):
    the endpoint's own two calls."""
    suite = SUITES.authenticate(headers)  # before the body
    return read_upload(suite, headers, body, received_at=RECEIVED_AT, limits=limits)


def _post(body: bytes, token: str = "tok-py", quoted: bool = True, **headers: str) -> Upload:  # noqa: S107
    auth = f'Token token="{token}"' if quoted else f"Token token={token}"
    all_headers = {"Authorization": auth, "Content-Type": JSON}
    all_headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return _upload(all_headers, body)


def _by_name(results: list[TestResult]) -> dict[str, TestResult]:
    return {r.test.name: r for r in results}


def test_python_collector_upload_becomes_one_message_per_test() -> None:
    upload = _post(fixture("testengine/python_collector.json"))
    assert upload.suite == "payments-pytest"
    results = _by_name(upload.results)
    assert [r.result for r in upload.results] == ["passed", "failed", "skipped"]
    failed = results["test_discount_is_applied"]
    assert failed.suite == "payments-pytest"
    assert failed.test.id == "eb112d9e-e841-43c6-9be4-b9e19e12a908"
    assert failed.test.scope == "test_sample.py::TestCheckout"
    assert failed.test.location == "test_sample.py:6"
    assert failed.test.file_name == "test_sample.py"
    assert failed.duration_s == pytest.approx(0.096179)
    assert failed.failure_reason is not None
    assert failed.failure_reason.startswith("AssertionError: discount should be 20")
    assert failed.failure_expanded[0].backtrace == ["test_sample.py:8: AssertionError"]
    assert failed.attempt == 1
    assert failed.upload_id == upload.upload_id
    assert failed.received_at == RECEIVED_AT
    env = failed.run_env
    assert (env.ci, env.number, env.branch) == ("buildkite", "1042", "main")
    assert env.key == "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert env.job_id == "0190a1b2-dddd-7e5f-8a9b-0c1d2e3f4a5b"
    assert env.commit_sha == "4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
    assert env.message == "Apply tax before discount"
    assert env.url == "https://buildkite.com/acme/payments-api/builds/1042"


def test_the_202_body_has_the_fields_collectors_read() -> None:
    upload = _post(fixture("testengine/python_collector.json"))
    body = upload.response_body()
    assert set(body) == {"id", "run_id", "queued", "skipped", "errors", "run_url"}
    assert body["queued"] == 3
    assert body["skipped"] == 0
    assert body["errors"] == []
    assert body["run_url"] is None
    assert upload.response_body("https://kitestream.acme.dev/runs/x")["run_url"].endswith("/x")
    orjson.dumps(body)


def test_js_collector_lower_case_ci_numbers_and_pending_are_understood() -> None:
    upload = _post(fixture("testengine/js_collector.json"), token="tok-js")
    assert upload.suite == "web-jest"
    results = _by_name(upload.results)
    assert results["includes tax"].run_env.ci == "buildkite"
    assert results["includes tax"].run_env.number == "318"
    assert results["supports coupons"].result == "skipped"  # jest "pending"
    assert results["supports coupons"].test.location is None
    assert results["handles gift cards"].result == "skipped"
    failed = results["rounds to cents"]
    assert failed.result == "failed"
    assert failed.failure_expanded[0].expanded[1] == "Expected: 10.01"
    assert failed.duration_s == pytest.approx(0.004)


def test_bktec_unquoted_token_is_accepted() -> None:
    upload = _post(fixture("testengine/python_collector.json"), quoted=False)
    assert upload.suite == "payments-pytest"


def test_the_same_upload_twice_gives_the_same_ids() -> None:
    first = _post(fixture("testengine/python_collector.json"))
    again = _post(fixture("testengine/python_collector.json"))
    assert first.upload_id == again.upload_id
    assert first.run_id == again.run_id
    assert [r.event_id for r in first.results] == [r.event_id for r in again.results]
    assert [r.to_json() for r in first.results] == [r.to_json() for r in again.results]


def test_one_run_uploaded_in_batches_shares_its_run_id() -> None:
    doc = orjson.loads(fixture("testengine/python_collector.json"))
    first = _post(orjson.dumps({**doc, "data": doc["data"][:2]}))
    second = _post(orjson.dumps({**doc, "data": doc["data"][2:]}))
    assert first.run_id == second.run_id
    assert first.upload_id != second.upload_id


def test_a_test_reported_twice_in_one_upload_is_two_attempts() -> None:
    doc = orjson.loads(fixture("testengine/ruby_collector.json"))
    flaky = doc["data"][1]
    doc["data"] = [flaky, {**flaky, "result": "passed", "failure_reason": None}]
    first, second = _post(orjson.dumps(doc)).results
    assert (first.attempt, first.result) == (1, "failed")
    assert (second.attempt, second.result) == (2, "passed")
    assert first.event_id != second.event_id


def test_bad_entries_are_skipped_and_reported_the_rest_queued() -> None:
    doc = orjson.loads(fixture("testengine/python_collector.json"))
    doc["data"] += [{"scope": "x"}, "not an object", {"name": "ok", "history": {"duration": -1}}]
    upload = _post(orjson.dumps(doc))
    assert upload.response_body()["queued"] == 4
    assert upload.skipped == 2
    assert upload.errors[0].startswith("data[3].name")
    assert upload.errors[1].startswith("data[4]")
    assert _by_name(upload.results)["ok"].duration_s is None
    assert _by_name(upload.results)["ok"].result == "unknown"


def test_reported_errors_are_capped() -> None:
    doc = {"format": "json", "run_env": {}, "data": [{"bad": i} for i in range(50)]}
    upload = _upload(
        {"authorization": "Token token=tok-py", "content-type": JSON},
        orjson.dumps(doc),
        Limits(max_errors=3),
    )
    assert upload.skipped == 50
    assert len(upload.errors) == 3


def test_duration_falls_back_to_start_and_end() -> None:
    doc = {"data": [{"name": "t", "result": "passed", "history": {"start_at": 1.5, "end_at": 2.0}}]}
    [result] = _post(orjson.dumps(doc)).results
    assert result.duration_s == pytest.approx(0.5)
    assert result.run_env.ci is None  # no run_env at all is an empty one


def test_long_failure_text_is_capped() -> None:
    doc = {
        "data": [
            {
                "name": "huge",
                "result": "failed",
                "failure_reason": "E" * 10_000,
                "failure_expanded": [{"expanded": ["x" * 100] * 1_000, "backtrace": ["b"] * 10}],
            }
        ]
    }
    [result] = _upload(
        {"authorization": "Token tok-py", "content-type": JSON},
        orjson.dumps(doc),
        Limits(max_reason_chars=100, max_expanded_chars=1_000),
    ).results
    assert result.failure_reason is not None
    assert len(result.failure_reason) == 100
    assert result.failure_reason.endswith("…")
    [detail] = result.failure_expanded
    assert sum(len(line) for line in detail.expanded[:-1]) <= 1_000
    assert detail.expanded[-1].startswith("… 1000 more lines dropped")
    assert detail.backtrace == []


# multipart/form-data, as curl -F and the test-collector Buildkite plugin send it


def test_multipart_junit_upload_with_run_env_fields() -> None:
    body, ctype = multipart(
        {
            "format": "junit",
            "run_env[CI]": "buildkite",
            "run_env[key]": "0190a1b2-aaaa-7e5f-8a9b-0c1d2e3f4a5b",
            "run_env[number]": "1043",
            "run_env[branch]": "main",
            "run_env[commit_sha]": "4f3c2a1b",
        },
        {"data": ("TEST-CheckoutServiceTest.xml", fixture("junit/surefire_reruns.xml"))},
    )
    upload = _post(body, content_type=ctype)
    assert upload.response_body()["queued"] == 9
    flaky = [r for r in upload.results if r.test.name == "retriesGatewayTimeout"]
    assert [(r.attempt, r.result) for r in flaky] == [(1, "failed"), (2, "passed")]
    assert flaky[0].run_env.key == "0190a1b2-aaaa-7e5f-8a9b-0c1d2e3f4a5b"
    assert flaky[0].run_env.number == "1043"
    assert flaky[0].test.scope == "com.acme.payments.CheckoutServiceTest"


def test_bktec_upload_multipart_with_unquoted_token() -> None:
    # what `bktec upload junit.xml` sends: Go's multipart writer, run_env[...] fields
    body, ctype = multipart(
        {
            "format": "junit",
            "run_env[collector]": "bktec",
            "run_env[version]": "v1.6.0",
            "run_env[CI]": "buildkite",
            "run_env[key]": "0190a1b2-bbbb-7e5f-8a9b-0c1d2e3f4a5b",
            "run_env[job_id]": "0190a1b2-cccc-7e5f-8a9b-0c1d2e3f4a5b",
            "run_env[url]": "https://buildkite.com/acme/ledger/builds/78",
        },
        {"data": ("build/junit.xml", fixture("junit/pytest_rerunfailures.xml"))},
        boundary="2c4ad5d8f4e1b0d9a6c3e7f1b2a5d8c0e3f6a9b2c5d8e1f4a7b0c3d6e9f2",
    )
    upload = _post(body, token="tok-rb", quoted=False, content_type=ctype)
    assert upload.suite == "ledger-rspec"
    idempotent = [r for r in upload.results if r.test.name == "test_sync_is_idempotent"]
    assert [(r.attempt, r.result) for r in idempotent] == [
        (1, "failed"),
        (2, "failed"),
        (3, "passed"),
    ]
    assert idempotent[0].run_env.job_id == "0190a1b2-cccc-7e5f-8a9b-0c1d2e3f4a5b"


def test_multipart_json_data_file_with_a_skipped_entry() -> None:
    body, ctype = multipart(
        {"format": "json", "run_env[CI]": "generic", "run_env[key]": "run-7"},
        {"data": ("test-data-1.json", fixture("testengine/json_data_file.json"))},
    )
    upload = _post(body, content_type=ctype)
    assert [r.test.name for r in upload.results] == ["sums line items", "applies credit notes"]
    assert upload.skipped == 1
    assert upload.errors == ["data[1].name: String should have at least 1 character"]
    assert upload.results[1].duration_s == pytest.approx(0.034)


def test_multipart_json_file_may_be_a_whole_upload_document() -> None:
    body, ctype = multipart(
        {"format": "json", "run_env[branch]": "override"},
        {"data": ("payload.json", fixture("testengine/python_collector.json"))},
    )
    [first, *_] = _post(body, content_type=ctype).results
    assert first.run_env.key == "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert first.run_env.branch == "override"  # the form fields win


def test_multipart_gzipped_data_file_is_inflated() -> None:
    body, ctype = multipart(
        {"format": "junit"}, {"data": ("junit.xml.gz", gzipped(fixture("junit/pytest_xunit1.xml")))}
    )
    assert len(_post(body, content_type=ctype).results) == 3


def test_multipart_without_format_is_told_apart_by_content() -> None:
    xml_body, xml_type = multipart({}, {"data": ("r.xml", fixture("junit/pytest_xunit1.xml"))})
    json_body, json_type = multipart(
        {}, {"data": ("r.json", fixture("testengine/json_data_file.json"))}
    )
    assert len(_post(xml_body, content_type=xml_type).results) == 3
    assert len(_post(json_body, content_type=json_type).results) == 2


def test_multipart_with_an_unknown_format_is_422() -> None:
    body, ctype = multipart({"format": "tap"}, {"data": ("r.tap", b"ok 1")})
    with pytest.raises(InvalidPayload, match="json or junit"):
        _post(body, content_type=ctype)


def test_multipart_without_a_data_file_is_422() -> None:
    body, ctype = multipart({"format": "junit"}, {})
    with pytest.raises(InvalidPayload, match="data"):
        _post(body, content_type=ctype)


def test_truncated_multipart_upload_is_400() -> None:
    body, ctype = multipart(
        {"format": "junit"}, {"data": ("r.xml", fixture("junit/pytest_xunit1.xml"))}
    )
    with pytest.raises(MalformedBody, match="truncated"):
        _post(body[:-300], content_type=ctype)


def test_malformed_junit_in_multipart_is_400() -> None:
    body, ctype = multipart(
        {"format": "junit"}, {"data": ("r.xml", fixture("junit/malformed.xml"))}
    )
    with pytest.raises(MalformedBody):
        _post(body, content_type=ctype)


def test_billion_laughs_in_multipart_is_400() -> None:
    body, ctype = multipart(
        {"format": "junit"}, {"data": ("r.xml", fixture("junit/billion_laughs.xml"))}
    )
    with pytest.raises(MalformedBody, match="unsafe"):
        _post(body, content_type=ctype)


# refusals


def test_a_wrong_token_is_401_before_the_body_is_read() -> None:
    with pytest.raises(Unauthorized):
        _post(b"\x1f\x8b not even gzip", token="nope", content_encoding="gzip")


def test_too_many_executions_is_413() -> None:
    doc = {"data": [{"name": f"t{i}"} for i in range(11)]}
    with pytest.raises(PayloadTooLarge, match="11 executions"):
        _upload(
            {"authorization": "Token tok-py", "content-type": JSON},
            orjson.dumps(doc),
            Limits(max_executions=10),
        )


def test_a_json_body_that_is_not_json_is_400() -> None:
    with pytest.raises(MalformedBody):
        _post(b'{"format": "json", "data": [')


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "JSON object"),
        ({"format": "junit", "data": []}, "multipart"),
        ({"data": {"name": "t"}}, "array"),
        ({"run_env": "buildkite", "data": []}, "run_env"),
    ],
)
def test_json_of_the_wrong_shape_is_422(document: object, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message) as caught:
        _post(orjson.dumps(document))
    assert caught.value.to_body() == {"error": "invalid_payload", "detail": caught.value.detail}


def test_run_env_ignores_nested_values_and_blank_strings() -> None:
    env = run_env_from({"CI": "buildkite", "key": " ", "number": 12, "url": {"x": 1}, "x": "y"})
    assert (env.ci, env.key, env.number, env.url) == ("buildkite", None, "12", None)


def test_the_body_is_read_as_given_whatever_its_content_encoding_header() -> None:
    headers = {"content-type": JSON, "content-encoding": "gzip"}
    body = fixture("testengine/ruby_collector.json")
    upload = read_upload("ledger-rspec", headers, body, received_at=RECEIVED_AT)
    assert upload.response_body()["queued"] == 3


def test_an_inflated_body_over_the_cap_is_still_413() -> None:
    with pytest.raises(PayloadTooLarge):
        read_upload(
            "s",
            {"content-type": JSON},
            b"[" * 100,
            received_at=RECEIVED_AT,
            limits=Limits(max_inflated_bytes=10),
        )


def _form_with_copies(file: bytes, copies: int) -> tuple[bytes, str]:
    """A form carrying the same ``data`` file ``copies`` times."""
    part = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="data"; filename="r.json.gz"\r\n\r\n'
        + file
        + b"\r\n"
    )
    return part * copies + b"--b0undary--\r\n", "multipart/form-data; boundary=b0undary"


def test_many_small_gzip_files_share_one_inflation_budget() -> None:
    tests = orjson.dumps([{"name": f"t{i}", "result": "passed"} for i in range(200)])
    limits = Limits(max_inflated_bytes=len(tests) * 3)  # room for three copies, not four

    def upload(copies: int) -> Upload:
        body, content_type = _form_with_copies(gzipped(tests), copies)
        headers = {"content-type": content_type}
        return read_upload("s", headers, body, received_at=RECEIVED_AT, limits=limits)

    assert len(upload(3).results) == 600
    with pytest.raises(PayloadTooLarge, match="inflates"):
        upload(4)


def test_json_nested_deeper_than_the_limit_is_400() -> None:
    deep = b'{"data": [{"name": "t", "x": ' + b"[" * 40 + b"]" * 40 + b"}]}"
    with pytest.raises(MalformedBody, match="deeper than 32"):
        _post(deep)
    upload = read_upload(
        "s",
        {"content-type": JSON},
        deep,
        received_at=RECEIVED_AT,
        limits=Limits(max_json_depth=64),
    )
    assert len(upload.results) == 1
