"""Producers and consumers are made durable by default (no broker needed to check)."""

from __future__ import annotations

from services.common.kafka import decode, encode, make_consumer, make_producer
from services.common.settings import KafkaSettings, split_csv
from services.common.topics import Topic, Topics, topic_specs


async def test_producers_wait_for_all_replicas_and_are_idempotent() -> None:
    producer = make_producer("127.0.0.1:1")
    assert producer._sender._acks == -1  # acks=all
    assert producer._txn_manager is not None  # idempotence on
    assert producer._txn_manager.transactional_id is None
    await producer.stop()


async def test_transactional_producers_carry_their_id() -> None:
    producer = make_producer("127.0.0.1:1", transactional_id="flakiness-0")
    assert producer._txn_manager.transactional_id == "flakiness-0"
    await producer.stop()


async def test_consumers_commit_by_hand_and_read_committed() -> None:
    consumer = make_consumer("127.0.0.1:1", "alerts", group_id="g")
    assert consumer._enable_auto_commit is False
    assert consumer._isolation_level == "read_committed"
    await consumer.stop()


def test_json_round_trip_and_tombstones() -> None:
    assert decode(encode({"a": [1, "b"]})) == {"a": [1, "b"]}
    assert decode(None) is None


def test_every_contract_topic_takes_the_prefix_and_state_is_compacted() -> None:
    specs = {s.name: s.config for s in topic_specs(Topics("acme."))}
    assert set(specs) == {f"acme.{t}" for t in Topic}
    assert specs["acme.flakiness.state"] == {"cleanup.policy": "compact"}
    assert specs["acme.alerts"] == {}
    assert Topics("acme.").internal("flakiness-changelog") == "acme.kitestream.flakiness-changelog"


def test_kafka_bootstrap_servers_always_wins(monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092,broker-b:9092")
    monkeypatch.setenv("KITESTREAM_TOPIC_PREFIX", "ci.")
    settings = KafkaSettings()
    assert settings.bootstrap_servers == "broker-a:9092,broker-b:9092"
    assert settings.topic_prefix == "ci."


def test_comma_separated_settings_are_split_and_trimmed() -> None:
    assert split_csv(" a, b,,c ") == ["a", "b", "c"]
    assert split_csv(None) == []
    assert split_csv(["x ", ""]) == ["x"]
