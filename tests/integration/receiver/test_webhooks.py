"""Through Kafka: every 202 is in the right topic with the right key and content; a
refused request writes nothing."""

from __future__ import annotations

import json
from typing import Any

import orjson

from tests.integration.receiver.conftest import count_messages, read_all
from tests.unit.receiver.clients import OLD_TOKEN, TOKEN, Receiver
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


async def test_the_message_carries_the_webhook_body_byte_for_byte(receiver: Receiver) -> None:
    # as a client other than Buildkite might write it: spaced, non-ASCII escaped, a newline
    payload = {**build_webhook(), "note": "caf\u00e9 <b>"}
    body = (json.dumps(payload, indent=1) + "\n").encode()
    response = await receiver.post(payload, signed_with=TOKEN, raw=body)
    assert response.status_code == 202, response.text
    [record] = await read_all(receiver.settings.bootstrap_servers, receiver.topics, 1)
    assert record.value.endswith(b',"payload":' + body.strip() + b"}")
    assert orjson.loads(record.value)["payload"] == payload


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
