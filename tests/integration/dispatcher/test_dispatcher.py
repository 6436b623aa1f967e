"""The dispatcher on the real broker: routing, delivery records, DLQ, commits, metrics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from schemas.alerts import Alert
from schemas.deadletter import DeadLetter
from services.common.topics import Topic, Topics
from services.dispatcher.records import DeliveryRecord
from services.dispatcher.service import Dispatcher
from tests.integration.dispatcher.kafka_helpers import (
    committed_offsets,
    dispatching,
    produce,
    settings_for,
)
from tests.integration.dispatcher.recorder import RecordingServer, Reply
from tests.kafka_io import read_topic
from tests.unit.dispatcher.factories import make_alert

ENV = {"SECRET": "s3cret"}


def webhook(url: str) -> dict[str, Any]:
    return {"type": "webhook", "url": url, "secret_env": "SECRET", "allow_private": True}


def keys(server: RecordingServer) -> list[str]:
    return [r.headers["idempotency-key"] for r in server.received]


def entries(alerts: list[Alert], key: str | None = None) -> list[tuple[str | None, bytes]]:
    return [(key or a.service or a.alert_id, a.to_json()) for a in alerts]


def metric(dispatcher: Dispatcher, name: str, **labels: str) -> float | None:
    return dispatcher.metrics.registry.get_sample_value(f"kitestream_dispatcher_{name}", labels)


def deliveries(dispatcher: Dispatcher, sink: str) -> dict[str, float | None]:
    kinds = ("delivered", "retried", "dead_lettered", "skipped_duplicate")
    return {k: metric(dispatcher, "deliveries_total", sink=sink, outcome=k) for k in kinds}


async def test_alerts_reach_the_sinks_their_routes_name_and_offsets_are_committed(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    critical = [make_alert(n, service=f"svc-{n}") for n in range(6)]
    flaky = [make_alert(n, kind="flaky_test", severity="warning") for n in range(6, 10)]
    with RecordingServer() as oncall, RecordingServer() as audit:
        routes = {
            "sinks": {
                "oncall": webhook(oncall.url()),
                "audit": webhook(audit.url()),
                "log": {"type": "log"},
            },
            "routes": [
                {
                    "match": {"kind": "failure_deploy_incident", "severity": "critical"},
                    "to": ["oncall"],
                },
                {"match": {"kind": ["flaky_test", "flaky_test_recovered"]}, "to": "audit"},
                {"to": ["log"]},
            ],
        }
        settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
        alerts_topic = kafka_topics.name(Topic.ALERTS)
        async with dispatching(settings, ENV):
            await produce(kafka_bootstrap, alerts_topic, entries(critical + flaky))
            await oncall.wait_for(lambda got: len(got) >= 6)
            await audit.wait_for(lambda got: len(got) >= 4)
    assert sorted(keys(oncall)) == sorted(a.alert_id for a in critical)
    assert sorted(keys(audit)) == sorted(a.alert_id for a in flaky)
    committed = await committed_offsets(kafka_bootstrap, kafka_topics, settings.consumer_group)
    assert sum(committed.values()) == 10  # every alert settled and committed


async def test_delivery_records_keep_a_second_dispatcher_from_sending_again(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    earlier = [make_alert(n) for n in range(5)]
    later = make_alert(99)
    alerts_topic = kafka_topics.name(Topic.ALERTS)
    with RecordingServer() as server:
        routes = {"sinks": {"hook": webhook(server.url())}, "routes": [{"to": "hook"}]}
        first = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
        async with dispatching(first, ENV):
            await produce(kafka_bootstrap, alerts_topic, entries(earlier, key="payments-api"))
            await server.wait_for(lambda got: len(got) >= 5)
        # A new consumer group reads every alert again; the records say they were sent.
        second = first.model_copy(update={"group_id": first.consumer_group + "-again"})
        async with dispatching(second, ENV):
            await produce(kafka_bootstrap, alerts_topic, entries([later], key="payments-api"))
            await server.wait_for(lambda got: later.alert_id in keys(server))
    assert keys(server) == [a.alert_id for a in earlier] + [later.alert_id]
    records = await read_topic(kafka_bootstrap, kafka_topics.internal("dispatcher-delivered"), 6)
    decoded = [DeliveryRecord.model_validate_json(v or b"") for _, v in records]
    assert {r.outcome for r in decoded} == {"delivered"}
    assert {k for k, _ in records} == {f"{a.alert_id}/hook".encode() for a in [*earlier, later]}


async def test_a_duplicate_alert_on_the_topic_is_delivered_once(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    twice, sentinel = make_alert(1), make_alert(2)
    with RecordingServer() as server:
        routes = {"sinks": {"hook": webhook(server.url())}, "routes": [{"to": "hook"}]}
        settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
        async with dispatching(settings, ENV) as dispatcher:
            await produce(
                kafka_bootstrap,
                kafka_topics.name(Topic.ALERTS),
                entries([twice, twice, twice, sentinel], key="payments-api"),
            )
            await server.wait_for(lambda got: sentinel.alert_id in keys(server))
    assert Counter(keys(server)) == {twice.alert_id: 1, sentinel.alert_id: 1}
    assert metric(dispatcher, "alerts_consumed_total") == 4
    assert deliveries(dispatcher, "hook") == {
        "delivered": 2,
        "retried": 0,
        "dead_lettered": 0,
        "skipped_duplicate": 2,
    }
    assert metric(dispatcher, "attempts_total", sink="hook", status_class="2xx") == 2
    assert metric(dispatcher, "pending_alerts", sink="hook") == 0


async def test_a_sink_that_never_recovers_sends_the_alert_to_the_dlq_with_the_reason(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    alert = make_alert(3)
    with (
        RecordingServer(lambda r, n: Reply(503, b"down for good")) as dead,
        RecordingServer() as alive,
    ):
        routes = {
            "sinks": {"dead": webhook(dead.url()), "alive": webhook(alive.url())},
            "routes": [{"to": ["dead", "alive"]}],
        }
        # The third failure in a row opens the circuit, and stays open for the test.
        settings = settings_for(
            kafka_bootstrap,
            kafka_topics,
            routes,
            tmp_path,
            breaker_threshold=3,
            breaker_cooldown_s=600,
        )
        async with dispatching(settings, ENV) as dispatcher:
            await produce(kafka_bootstrap, kafka_topics.name(Topic.ALERTS), entries([alert]))
            [(key, value)] = await read_topic(kafka_bootstrap, kafka_topics.name(Topic.DLQ), 1)
            await alive.wait_for(lambda got: len(got) == 1)
    assert deliveries(dispatcher, "dead") == {
        "delivered": 0,
        "retried": 2,
        "dead_lettered": 1,
        "skipped_duplicate": 0,
    }
    assert metric(dispatcher, "attempts_total", sink="dead", status_class="5xx") == 3
    assert metric(dispatcher, "circuit_state", sink="dead") == 2  # open
    assert metric(dispatcher, "circuit_opened_total", sink="dead") == 1
    assert metric(dispatcher, "dead_letters_total", reason="gave_up") == 1
    assert deliveries(dispatcher, "alive")["delivered"] == 1
    assert metric(dispatcher, "circuit_state", sink="alive") == 0
    letter = DeadLetter.model_validate_json(value or b"")
    assert key == b"payments-api"
    assert letter.service == "dispatcher"
    assert (
        letter.error == "sink dead: gave up after 3 attempts; last error: HTTP 503: down for good"
    )
    assert letter.origin_topic == kafka_topics.name(Topic.ALERTS)
    assert Alert.model_validate_json(letter.value or "") == alert
    assert len(dead.received) == 3
    assert keys(alive) == [alert.alert_id]
    records = await read_topic(kafka_bootstrap, kafka_topics.internal("dispatcher-delivered"), 2)
    outcomes = {DeliveryRecord.model_validate_json(v or b"").sink: v for _, v in records}
    assert orjson.loads(outcomes["dead"] or b"")["outcome"] == "dead_lettered"
    assert orjson.loads(outcomes["alive"] or b"")["outcome"] == "delivered"


async def test_a_sink_that_fails_twice_then_recovers_counts_two_retries_and_one_delivery(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    alert = make_alert(7)

    def recovering(request: object, n: int) -> Reply:
        return Reply(502, b"bad gateway") if n < 2 else Reply(202, b"")

    with RecordingServer(recovering) as server:
        routes = {"sinks": {"hook": webhook(server.url())}, "routes": [{"to": "hook"}]}
        settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
        async with dispatching(settings, ENV) as dispatcher:
            await produce(kafka_bootstrap, kafka_topics.name(Topic.ALERTS), entries([alert]))
            await server.wait_for(lambda got: len(got) == 3)
    assert keys(server) == [alert.alert_id] * 3
    assert deliveries(dispatcher, "hook") == {
        "delivered": 1,
        "retried": 2,
        "dead_lettered": 0,
        "skipped_duplicate": 0,
    }
    assert metric(dispatcher, "attempts_total", sink="hook", status_class="5xx") == 2
    assert metric(dispatcher, "attempts_total", sink="hook", status_class="2xx") == 1
    assert metric(dispatcher, "delivery_seconds_count", sink="hook") == 1
    assert metric(dispatcher, "circuit_state", sink="hook") == 0
    assert metric(dispatcher, "dead_letters_total", reason="gave_up") == 0


async def test_a_message_that_is_not_an_alert_goes_to_the_dlq(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    good = make_alert(4)
    with RecordingServer() as server:
        routes = {"sinks": {"hook": webhook(server.url())}, "routes": [{"to": "hook"}]}
        settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
        async with dispatching(settings, ENV) as dispatcher:
            await produce(
                kafka_bootstrap,
                kafka_topics.name(Topic.ALERTS),
                [("payments-api", b'{"alert_id": "x"}'), ("payments-api", good.to_json())],
            )
            [(_, value)] = await read_topic(kafka_bootstrap, kafka_topics.name(Topic.DLQ), 1)
            await server.wait_for(lambda got: len(got) == 1)
    assert metric(dispatcher, "alerts_consumed_total") == 2
    assert metric(dispatcher, "dead_letters_total", reason="invalid_alert") == 1
    assert metric(dispatcher, "dead_letters_total", reason="gave_up") == 0
    letter = DeadLetter.model_validate_json(value or b"")
    assert letter.error.startswith("not a valid alert: kind: Field required")
    assert letter.value == '{"alert_id": "x"}'
    assert keys(server) == [good.alert_id]


async def test_an_alert_from_another_producer_with_null_parts_is_delivered_not_dead_lettered(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    written = orjson.loads(make_alert(5).to_json())
    nulls = ("failure", "deploy", "incident", "test", "reasons", "links", "score", "service")
    written.update(dict.fromkeys(nulls, None))
    with RecordingServer() as server:
        routes = {"sinks": {"hook": webhook(server.url())}, "routes": [{"to": "hook"}]}
        settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
        async with dispatching(settings, ENV) as dispatcher:
            await produce(
                kafka_bootstrap,
                kafka_topics.name(Topic.ALERTS),
                [("payments-api", orjson.dumps(written))],
            )
            await server.wait_for(lambda got: len(got) == 1)
    assert keys(server) == [written["alert_id"]]
    body = orjson.loads(server.received[0].body)
    assert (body["deploy"], body["reasons"], body["links"]) == ({}, [], {})
    assert metric(dispatcher, "dead_letters_total", reason="invalid_alert") == 0
    assert deliveries(dispatcher, "hook")["delivered"] == 1


async def test_a_restarted_dispatcher_resolves_the_pagerduty_alert_the_first_one_triggered(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    flagged = make_alert(5, kind="flaky_test", severity="warning")
    recovered = make_alert(6, kind="flaky_test_recovered", severity="info")
    alerts_topic = kafka_topics.name(Topic.ALERTS)
    with RecordingServer(lambda r, n: Reply(202, b'{"status":"success"}')) as pagerduty:
        sink = {
            "type": "pagerduty",
            "routing_key_env": "PD_KEY",
            "allow_private": True,
            "events_url": pagerduty.url("/v2/enqueue"),
        }
        routes = {"sinks": {"pd": sink}, "routes": [{"to": "pd"}]}
        settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
        env = {"PD_KEY": "routing-key"}
        async with dispatching(settings, env):
            await produce(kafka_bootstrap, alerts_topic, entries([flagged], key="suite/test_a"))
            await pagerduty.wait_for(lambda got: len(got) == 1)
        async with dispatching(settings, env):
            await produce(kafka_bootstrap, alerts_topic, entries([recovered], key="suite/test_a"))
            await pagerduty.wait_for(lambda got: len(got) == 2)
    trigger, resolve = (r.json() for r in pagerduty.received)
    assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", flagged.alert_id)
    assert (resolve["event_action"], resolve["dedup_key"]) == ("resolve", flagged.alert_id)
