"""The delivered index remembers deliveries as long as ``alerts`` can keep their alerts."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.common.kafka import encode
from services.common.topics import Topic, Topics, TopicSpec, create_topics
from services.dispatcher.deliverylog import replay_horizon_s
from services.dispatcher.records import DeliveryRecord
from tests.integration.dispatcher.kafka_helpers import dispatching, produce, settings_for
from tests.integration.dispatcher.recorder import RecordingServer
from tests.unit.dispatcher.factories import make_alert

HOUR_MS = 3_600_000


async def set_config(bootstrap: str, topic: str, config: dict[str, str]) -> None:
    """Set ``topic``'s configuration, and wait until the broker describes it so."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, config)])
        async with asyncio.timeout(20):
            while True:
                [response] = await admin.describe_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, topic, dict.fromkeys(config))]
                )
                entries = response.to_object()["resources"][0]["config_entries"]
                if {e["config_names"]: e["config_value"] for e in entries} == config:
                    return
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def test_the_replay_horizon_is_the_retention_plus_a_segment_plus_a_margin(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    timed, compacted, both = (kafka_topics.internal(n) for n in ("timed", "compacted", "both"))
    await create_topics(
        kafka_bootstrap,
        [
            TopicSpec(timed, {"retention.ms": str(24 * HOUR_MS), "segment.ms": str(HOUR_MS)}),
            TopicSpec(compacted, {"cleanup.policy": "compact"}),
            TopicSpec(both, {"cleanup.policy": "compact,delete", "retention.ms": str(HOUR_MS)}),
        ],
    )
    assert await replay_horizon_s(kafka_bootstrap, timed) == (24 + 1 + 1) * 3600
    assert await replay_horizon_s(kafka_bootstrap, compacted) is None  # kept for good
    assert (await replay_horizon_s(kafka_bootstrap, both) or 0) > 2 * 3600
    assert await replay_horizon_s(kafka_bootstrap, kafka_topics.internal("missing")) is None
    await set_config(kafka_bootstrap, timed, {"retention.ms": "-1"})
    assert await replay_horizon_s(kafka_bootstrap, timed) is None


@pytest.mark.parametrize(
    ("setting", "alerts_config"),
    [
        (None, {"retention.ms": str(24 * HOUR_MS), "segment.ms": str(HOUR_MS)}),  # 26 h
        ({"delivered_retention_s": 26 * 3600}, {}),
    ],
    ids=["from-the-alerts-topic", "from-the-setting"],
)
async def test_records_older_than_the_retention_are_not_loaded_at_start(
    kafka_bootstrap: str,
    kafka_topics: Topics,
    tmp_path: Path,
    setting: dict[str, Any] | None,
    alerts_config: dict[str, str],
) -> None:
    old, recent = make_alert(1), make_alert(2)
    if alerts_config:
        await set_config(kafka_bootstrap, kafka_topics.name(Topic.ALERTS), alerts_config)
    delivered = kafka_topics.internal("dispatcher-delivered")
    await create_topics(kafka_bootstrap, [TopicSpec(delivered, {"cleanup.policy": "compact"})])
    now = datetime.now(UTC)
    records = [
        DeliveryRecord(
            alert_id=alert.alert_id,
            sink="hook",
            outcome="delivered",
            attempts=1,
            at=now - timedelta(hours=hours_ago),
            kind=alert.kind,
            created_at=alert.created_at,
        )
        for alert, hours_ago in ((old, 30), (recent, 20))
    ]
    await produce(kafka_bootstrap, delivered, [(r.key().decode(), encode(r)) for r in records])
    with RecordingServer() as server:
        hook = {"type": "webhook", "url": server.url(), "secret_env": "S", "allow_private": True}
        routes = {"sinks": {"hook": hook}, "routes": [{"to": "hook"}]}
        settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path, **(setting or {}))
        async with dispatching(settings, {"S": "s3cret"}):
            await produce(
                kafka_bootstrap,
                kafka_topics.name(Topic.ALERTS),
                [("payments-api", a.to_json()) for a in (old, recent, make_alert(3))],
            )
            await server.wait_for(lambda got: len(got) >= 2)
    sent = [r.headers["idempotency-key"] for r in server.received]
    # The 30-hour-old record was left out (its alert could no longer be on `alerts`), so
    # the alert, written again, is sent; the 20-hour-old one still stops a resend.
    assert sent == [old.alert_id, make_alert(3).alert_id]


async def _topic_config(bootstrap: str, topic: str, names: tuple[str, ...]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, dict.fromkeys(names))]
        )
    finally:
        await admin.close()
    entries = response.to_object()["resources"][0]["config_entries"]
    return {e["config_names"]: e["config_value"] for e in entries if e["config_names"] in names}


@pytest.mark.parametrize("made_before", [False, True], ids=["new-topic", "kept-for-good"])
async def test_delivery_records_are_deleted_once_no_restart_can_read_their_alerts(
    kafka_bootstrap: str,
    kafka_topics: Topics,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    made_before: bool,
) -> None:
    alerts_config = {"retention.ms": str(24 * HOUR_MS), "segment.ms": str(HOUR_MS)}
    await set_config(kafka_bootstrap, kafka_topics.name(Topic.ALERTS), alerts_config)
    delivered = kafka_topics.internal("dispatcher-delivered")
    if made_before:  # by a dispatcher from before records expired
        await create_topics(kafka_bootstrap, [TopicSpec(delivered, {"cleanup.policy": "compact"})])
    routes: dict[str, Any] = {"sinks": {"log": {"type": "log"}}, "routes": [{"to": "log"}]}
    settings = settings_for(kafka_bootstrap, kafka_topics, routes, tmp_path)
    with caplog.at_level(logging.WARNING, logger="services.dispatcher.service"):
        async with dispatching(settings, {}):
            pass
    config = await _topic_config(kafka_bootstrap, delivered, ("cleanup.policy", "retention.ms"))
    warned = [r.getMessage() for r in caplog.records if "keeps delivery records" in r.getMessage()]
    if made_before:  # left as it is, with the command that bounds it
        assert config["cleanup.policy"] == "compact"
        assert len(warned) == 1
        assert "cleanup.policy=[compact,delete],retention.ms=93600000" in warned[0]
    else:  # the alerts' 24 h + a 1 h segment + the broker's check margin
        assert config == {"cleanup.policy": "compact,delete", "retention.ms": str(26 * HOUR_MS)}
        assert warned == []
