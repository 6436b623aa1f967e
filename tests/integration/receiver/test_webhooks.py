"""Through Kafka: every 202 is in the right topic with the right key and content; a
refused request writes nothing."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from services.receiver.routes import CHECKED_IN
from services.receiver.settings import ReceiverSettings
from tests.integration.receiver.conftest import (
    OLD_TOKEN,
    TOKEN,
    Receiver,
    count_messages,
    read_all,
    running,
)
from tests.unit.receiver.payloads import agent_webhook, build_webhook, job_webhook


async def test_every_accepted_event_is_in_its_topic_with_its_key_and_content(
    receiver: Receiver,
) -> None:
    sent: dict[str, tuple[str, str, dict[str, Any]]] = {}  # event_id -> topic, key, payload
    cases: list[tuple[Any, dict[str, Any], str, str]] = [
        (build_webhook("build.finished"), {"token": TOKEN}, "buildkite.builds", "payments-api"),
        (
            build_webhook("build.running"),
            {"signed_with": OLD_TOKEN},
            "buildkite.builds",
            "payments-api",
        ),
        (job_webhook("job.finished"), {"signed_with": TOKEN}, "buildkite.jobs", "payments-api"),
        (
            agent_webhook("agent.connected"),
            {"token": OLD_TOKEN},
            "buildkite.agents",
            "0b461f65-e7be-4c80-888a-ef11d81fd971",
        ),
        (build_webhook("build.reticulated"), {}, "buildkite.builds", "payments-api"),
        (
            {"cluster": {"id": "c-1"}},
            {"event": "cluster.created"},
            "buildkite.agents",
            "cluster.created",
        ),
    ]
    for payload, options, topic, key in cases:
        response = await receiver.post(payload, **options)
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["status"] == "accepted"
        assert answer["delivery"] == "kafka"
        assert answer["topic"] == topic
        sent[answer["event_id"]] = (topic, key, payload)

    records = await read_all(receiver.settings.bootstrap_servers, receiver.topics, len(sent))
    assert len(records) == len(sent)
    for record in records:
        value = orjson.loads(record.value)
        topic, key, payload = sent[value["event_id"]]
        assert record.topic == receiver.topics.name(topic)
        assert record.key == key.encode()
        assert value["payload"] == payload
        assert value["event"] in {payload.get("event"), "cluster.created"}


async def test_job_message_carries_normalised_job_build_and_pipeline(receiver: Receiver) -> None:
    retry = {"job_id": "j-0", "retry_type": "manual", "retried_by": {"id": "u-1"}}
    response = await receiver.post(job_webhook("job.finished", retry_source=retry))
    assert response.status_code == 202
    [record] = await read_all(receiver.settings.bootstrap_servers, receiver.topics, 1)
    value = orjson.loads(record.value)
    assert value["job"]["state"] == "failed"
    assert value["job"]["exit_status"] == 1
    assert value["job"]["retry_source"]["retry_type"] == "manual"
    assert value["build"]["number"] == 1514
    assert value["pipeline"]["slug"] == "payments-api"
    assert value["received_at"].endswith("Z") or "+00:00" in value["received_at"]


async def test_duplicate_delivery_is_accepted_twice_with_the_same_event_id(
    receiver: Receiver,
) -> None:
    first = await receiver.post(build_webhook())
    second = await receiver.post(build_webhook())
    assert first.status_code == second.status_code == 202
    assert first.json()["event_id"] == second.json()["event_id"]
    records = await read_all(receiver.settings.bootstrap_servers, receiver.topics, 2)
    assert {orjson.loads(r.value)["event_id"] for r in records} == {first.json()["event_id"]}


async def test_event_name_falls_back_to_the_body(receiver: Receiver) -> None:
    payload = job_webhook("job.started")
    response = await receiver.post(payload, headers={"x-buildkite-event": ""})
    assert response.status_code == 202
    assert response.json()["event"] == "job.started"


async def test_ping_answers_200_and_produces_nothing(receiver: Receiver) -> None:
    response = await receiver.post({"event": "ping", "service": {"id": "s"}})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "event": "ping"}
    assert await count_messages(receiver.settings.bootstrap_servers, receiver.topics) == 0


async def test_refused_requests_answer_json_errors_and_write_nothing(
    receiver_settings: ReceiverSettings,
) -> None:
    settings = receiver_settings.model_copy(
        update={"max_body_bytes": 20_000, "kafka_max_message_bytes": 12_000}
    )
    good = build_webhook()
    big_meta = build_webhook()
    big_meta["build"]["meta_data"] = {"blob": "x" * 9_000}
    async with running(settings) as receiver:
        # Read the clock once the receiver is up, with margin for a slow machine: the
        # exact edges of the tolerance are unit-tested with an explicit clock.
        now = int(time.time())
        cases: list[tuple[int, str, Any]] = [
            (401, "unauthorized", receiver.post(good, token=None)),
            (401, "unauthorized", receiver.post(good, token="bk-current-token-7f3a9")),
            (401, "unauthorized", receiver.post(good, signed_with="not-our-token")),
            (401, "unauthorized", receiver.post(good, signed_with=TOKEN, at=now - 330)),
            (401, "unauthorized", receiver.post(good, signed_with=TOKEN, at=now + 330)),
            (
                401,
                "unauthorized",
                receiver.post(good, headers={"x-buildkite-signature": "timestamp=1,sig"}),
            ),
            (
                401,
                "unauthorized",
                receiver.post(
                    good,
                    headers={"x-buildkite-signature": f"timestamp={now},signature={'0' * 64}"},
                ),
            ),
            (
                415,
                "unsupported_media_type",
                receiver.post(good, headers={"content-type": "text/plain"}),
            ),
            (413, "payload_too_large", receiver.post(None, raw=b"[" + b"1," * 15_000 + b"1]")),
            (413, "payload_too_large", receiver.post(big_meta)),
            (400, "malformed_body", receiver.post(None, raw=b'{"event": "build.finished",')),
            (400, "malformed_body", receiver.post(None, raw=b"[" * 100 + b"]" * 100)),
            (400, "malformed_body", receiver.post(None, raw=b"\xff\xfe")),
            (422, "invalid_payload", receiver.post({"build": {"id": "b"}}, event="build.finished")),
            (422, "invalid_payload", receiver.post({"no": "event"})),
            (422, "invalid_payload", receiver.post([1, 2], event="build.finished")),
        ]
        for status, code, request in cases:
            response = await request
            assert response.status_code == status, (status, response.text)
            assert response.json()["error"] == code
            assert response.json()["detail"]
        # A tampered body: signed for one payload, another one sent.
        signed = await receiver.post(good, signed_with=TOKEN)
        assert signed.status_code == 202
        tampered_sig = signed.request.headers["x-buildkite-signature"]
        tampered = build_webhook(state="failed")
        response = await receiver.post(tampered, headers={"x-buildkite-signature": tampered_sig})
        assert response.status_code == 401

        assert await count_messages(settings.bootstrap_servers, receiver.topics) == 1


async def test_metrics_count_answers_auth_failures_and_produce_latency(receiver: Receiver) -> None:
    assert (await receiver.post(build_webhook())).status_code == 202
    assert (await receiver.post(build_webhook(), token="wrong")).status_code == 401
    assert (await receiver.post(build_webhook(), token=None)).status_code == 401
    text = (await receiver.client.get("/metrics")).text
    route = 'route="/webhooks/buildkite"'
    assert f'kitestream_receiver_requests_total{{method="POST",{route},status="202"}} 1.0' in text
    assert f'kitestream_receiver_auth_failures_total{{reason="bad_token",{route}}} 1.0' in text
    assert 'reason="missing_credentials"' in text
    assert 'kitestream_receiver_produce_seconds_count{outcome="ok"} 1.0' in text
    assert 'kitestream_receiver_messages_total{path="kafka"} 1.0' in text
    assert "kitestream_receiver_spool_records 0.0" in text
    assert "kitestream_receiver_spool_oldest_age_seconds 0.0" in text
    assert "kitestream_receiver_kafka_up 1.0" in text


async def test_health_and_readiness_report_kafka_and_spool(receiver: Receiver) -> None:
    assert (await receiver.client.get("/healthz")).json() == {"status": "ok"}
    ready = await receiver.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["kafka"] == "up"
    assert ready.json()["spool"]["writable"] is True


async def test_openapi_document_is_served_as_checked_in(receiver: Receiver) -> None:
    served = await receiver.client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == orjson.loads(CHECKED_IN.read_bytes())


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nowhere", 404), ("PUT", "/healthz", 405)]
)
async def test_unknown_routes_and_methods_answer_json_errors(
    receiver: Receiver, method: str, path: str, status: int
) -> None:
    response = await receiver.client.request(method, path)
    assert response.status_code == status
    assert set(response.json()) == {"error", "detail"}
