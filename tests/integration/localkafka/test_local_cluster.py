"""``kitestream kafka up --brokers 3``: a real three-broker cluster beside the session's
broker, on which ``topics create`` replicates three times and warns about topics that
were made with fewer copies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.common.topics import Topics, TopicSpec, create_topics, topic_specs
from tests.integration.localkafka.cluster import running_cluster


async def _min_insync(bootstrap: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [resource] = response.resources
    configs = {entry[0]: entry[1] for entry in resource[4]}
    return str(configs["min.insync.replicas"])


async def _replicas(bootstrap: str, topic: str) -> set[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {len(p["replicas"]) for p in described["partitions"]}


def test_three_brokers_replicate_new_topics_and_warn_about_thin_ones(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        status = cluster.status()
        assert status.running, status.describe()
        assert len({pid for _, s in status.nodes if (pid := s.pid) is not None}) == 3
        topics = Topics("scale.")
        thin = topics.name("alerts")
        asyncio.run(create_topics(cluster.bootstrap, [TopicSpec(thin)], replication=1))
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
            "KITESTREAM_TOPIC_PREFIX": topics.prefix,
        }
        env.pop("KITESTREAM_TOPIC_REPLICATION", None)
        env.pop("KITESTREAM_TOPIC_MIN_INSYNC_REPLICAS", None)
        done = subprocess.run(
            [sys.executable, "-m", "services", "topics", "create", "--partitions", "2"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "replication factor 3 (3 brokers), min.insync.replicas 2" in done.stdout
        assert f"warning: {thin} has 1 replicas, fewer than 3" in done.stderr
        builds = topics.name("buildkite.builds")
        assert f"created {builds}" in done.stdout
        assert asyncio.run(_replicas(cluster.bootstrap, builds)) == {3}
        assert asyncio.run(_min_insync(cluster.bootstrap, builds)) == "2"
        assert asyncio.run(_replicas(cluster.bootstrap, thin)) == {1}  # left as it was
        assert len(topic_specs(topics)) == done.stdout.count("created ") + 1
        pids = [s.pid for _, s in status.nodes]
    assert not cluster.status().running
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)


def test_kafka_cli_runs_a_cluster_beside_the_single_broker(tmp_path: Path) -> None:
    """`up --brokers 3` / `status` / `down` through the command, on its own ports."""
    with running_cluster(tmp_path, brokers=3) as cluster:
        env = {
            **os.environ,
            "KITESTREAM_HOME": str(tmp_path),
            "KITESTREAM_KAFKA_JARS": str(cluster.paths.jars),
        }

        def kafka(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "services", "kafka", *argv],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )

        up = kafka("up", "--brokers", "3")
        assert up.returncode == 0, up.stderr
        assert "already running" in up.stdout
        assert f"KAFKA_BOOTSTRAP_SERVERS={cluster.bootstrap}" in up.stdout
        status = kafka("status", "--brokers", "3")
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("running: pid") == 3
        wrong = kafka("up", "--brokers", "2")
        assert wrong.returncode == 1
        assert "has 3 brokers, not 2" in wrong.stderr
        down = kafka("down", "--brokers", "3")
        assert down.stdout == "kafka cluster stopped\n"
        assert kafka("status", "--brokers", "3").returncode == 3
