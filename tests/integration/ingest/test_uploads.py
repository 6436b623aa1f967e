"""POST /v1/uploads through Kafka: each collector's upload lands on tests.results keyed by
its suite, one message per execution; a refused upload writes nothing."""

from __future__ import annotations

from typing import Any

import orjson

from services.common.topics import Topic
from tests.integration.ingest.conftest import INGEST_TOPICS, count_messages, read_topic
from tests.unit.ingest.payloads import fixture, gzipped, multipart
from tests.unit.receiver.clients import SUITES, IngestReceiver


def _values(records: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records]


async def test_each_collectors_upload_lands_on_tests_results_keyed_by_its_suite(
    ingest: IngestReceiver,
) -> None:
    junit, junit_type = multipart(
        {"format": "junit", "run_env[CI]": "buildkite", "run_env[key]": "bk-build-9"},
        {"data": ("TEST-CheckoutServiceTest.xml", fixture("junit/surefire_reruns.xml"))},
    )
    uploads: list[tuple[str, bytes, dict[str, Any]]] = [
        ("payments-pytest", fixture("testengine/python_collector.json"), {}),
        ("web-jest", fixture("testengine/js_collector.json"), {}),
        (  # Ruby: gzip, no per-test id
            "ledger-rspec",
            gzipped(fixture("testengine/ruby_collector.json")),
            {"headers": {"content-encoding": "gzip"}},
        ),
        (  # bktec: multipart JUnit, the token unquoted
            "payments-pytest",
            junit,
            {"content_type": junit_type, "quoted": False},
        ),
    ]
    expected: dict[str, int] = {}
    for suite, body, options in uploads:
        response = await ingest.upload(body, token=SUITES[suite], **options)
        assert response.status_code == 202, response.text
        answer = response.json()
        assert set(answer) == {"id", "run_id", "queued", "skipped", "errors", "run_url"}
        assert answer["skipped"] == 0
        assert answer["errors"] == []
        expected[answer["id"]] = answer["queued"]
    assert list(expected.values()) == [3, 4, 3, 9]

    records = await read_topic(ingest.bootstrap, ingest.topics, Topic.TEST_RESULTS, 19)
    assert len(records) == 19
    by_upload: dict[str, int] = {}
    for record, value in zip(records, _values(records), strict=True):
        assert record.key == value["suite"].encode()
        by_upload[value["upload_id"]] = by_upload.get(value["upload_id"], 0) + 1
    assert by_upload == expected
    ruby = [v for v in _values(records) if v["suite"] == "ledger-rspec"]
    assert [v["test"]["id"] for v in ruby] == [None, None, None]
    counts = await count_messages(ingest.bootstrap, ingest.topics, INGEST_TOPICS)
    assert counts == {Topic.TEST_RESULTS: 19, Topic.DEPLOYS: 0, Topic.INCIDENTS: 0}


async def test_an_uploaded_failure_keeps_its_reason_run_env_and_identity(
    ingest: IngestReceiver,
) -> None:
    response = await ingest.upload(fixture("testengine/python_collector.json"))
    assert response.status_code == 202, response.text
    records = await read_topic(ingest.bootstrap, ingest.topics, Topic.TEST_RESULTS, 3)
    by_name = {v["test"]["name"]: v for v in _values(records)}
    assert {n: v["result"] for n, v in by_name.items()} == {
        "test_total_adds_tax": "passed",
        "test_discount_is_applied": "failed",
        "test_refund": "skipped",
    }
    failed = by_name["test_discount_is_applied"]
    assert "discount should be 20" in failed["failure_reason"]
    assert failed["test"]["scope"]
    assert failed["test"]["file_name"] == "test_sample.py"
    assert failed["run_env"]["ci"] == "buildkite"
    assert failed["run_env"]["key"] == "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert failed["run_env"]["commit_sha"] == "4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"


async def test_a_junit_test_that_passed_on_rerun_is_two_executions_in_kafka(
    ingest: IngestReceiver,
) -> None:
    body, content_type = multipart(
        {"format": "junit", "run_env[key]": "bk-build-10"},
        {"data": ("junit.xml.gz", gzipped(fixture("junit/pytest_rerunfailures.xml")))},
    )
    response = await ingest.upload(body, content_type=content_type)
    assert response.status_code == 202, response.text
    records = await read_topic(ingest.bootstrap, ingest.topics, Topic.TEST_RESULTS, 5)
    runs = sorted(
        (v["attempt"], v["result"])
        for v in _values(records)
        if v["test"]["name"] == "test_sync_is_idempotent"
    )
    assert runs == [(1, "failed"), (2, "failed"), (3, "passed")]


async def test_the_same_upload_posted_twice_carries_the_same_event_ids(
    ingest: IngestReceiver,
) -> None:
    body = fixture("testengine/js_collector.json")
    first = await ingest.upload(body, token=SUITES["web-jest"])
    second = await ingest.upload(body, token=SUITES["web-jest"])
    assert first.json() == second.json()
    records = await read_topic(ingest.bootstrap, ingest.topics, Topic.TEST_RESULTS, 8)
    ids = [v["event_id"] for v in _values(records)]
    assert len(ids) == 8
    assert len(set(ids)) == 4


async def test_uploads_count_in_the_metrics_by_source_and_refusals_by_reason(
    ingest: IngestReceiver,
) -> None:
    body = orjson.dumps({"format": "json", "data": [{"name": "t", "result": "passed"}] * 3})
    assert (await ingest.upload(body)).status_code == 202
    assert (await ingest.upload(body, token="nope")).status_code == 401
    metrics = (await ingest.receiver.client.get("/metrics")).text
    assert (
        'kitestream_receiver_events_total{family="test_result",source="test_collector"} 3.0'
        in metrics
    )
    assert (
        'kitestream_receiver_auth_failures_total{reason="bad_token",route="/v1/uploads"} 1.0'
        in metrics
    )
    assert (
        'kitestream_receiver_requests_total{method="POST",route="/v1/uploads",status="202"} 1.0'
        in metrics
    )
