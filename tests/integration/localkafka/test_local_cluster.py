"""``kitestream kafka up --brokers 3``: a real three-broker cluster beside the session's
broker, on which ``topics create`` replicates three times and warns about topics that
were made with fewer copies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.cli import main
from services.common.topics import Topics, TopicSpec, create_topics, topic_specs
from tests.integration.localkafka.cluster import running_cluster
from tests.ports import free_port


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
    """Replica counts of the partitions of ``topic``, once every broker knows it (a
    new topic reaches each broker's metadata a moment after it is created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(20):
            while True:
                [described] = await admin.describe_topics([topic])
                if described["error_code"] == 0 and described["partitions"]:
                    return {len(p["replicas"]) for p in described["partitions"]}
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


def test_three_brokers_replicate_new_topics_and_answer_the_kafka_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replicated topics through `topics create`, then `kafka up|status|down --brokers 3`
    on the same cluster (one cluster start for both: each costs some 20 s here)."""
    with running_cluster(tmp_path) as cluster:
        status = cluster.status()
        assert status.running, status.describe()
        assert len({pid for _, s in status.nodes if (pid := s.pid) is not None}) == 3
        topics = Topics("scale.")
        thin = topics.name("alerts")
        asyncio.run(create_topics(cluster.bootstrap, [TopicSpec(thin)], replication=1))
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", cluster.bootstrap)
        monkeypatch.setenv("KITESTREAM_TOPIC_PREFIX", topics.prefix)
        monkeypatch.delenv("KITESTREAM_TOPIC_REPLICATION", raising=False)
        monkeypatch.delenv("KITESTREAM_TOPIC_MIN_INSYNC_REPLICAS", raising=False)
        assert main(["topics", "create", "--partitions", "2"]) == 0
        done = capsys.readouterr()
        assert "replication factor 3 (3 brokers), min.insync.replicas 2" in done.out
        assert f"warning: {thin} has 1 replicas, fewer than 3" in done.err
        builds = topics.name("buildkite.builds")
        assert f"created {builds}" in done.out
        assert asyncio.run(_replicas(cluster.bootstrap, builds)) == {3}
        assert asyncio.run(_min_insync(cluster.bootstrap, builds)) == "2"
        assert asyncio.run(_replicas(cluster.bootstrap, thin)) == {1}  # left as it was
        assert len(topic_specs(topics)) == done.out.count("created ") + 1
        assert main(["topics", "create", "--replication", "4"]) == 2
        assert "needs 4 brokers; the cluster has 3" in capsys.readouterr().err
        pids = [s.pid for _, s in status.nodes]
        monkeypatch.setenv("KITESTREAM_HOME", str(tmp_path))
        monkeypatch.setenv("KITESTREAM_KAFKA_JARS", str(cluster.paths.jars))
        monkeypatch.setenv("KITESTREAM_LOCAL_KAFKA_PORT", str(free_port(pairs=2)))

        def kafka(*argv: str) -> tuple[int, str, str]:
            code = main(["kafka", *argv])
            out, err = capsys.readouterr()
            return code, out, err

        code, out, _ = kafka("up", "--brokers", "3")
        assert code == 0
        assert "already running" in out
        assert f"KAFKA_BOOTSTRAP_SERVERS={cluster.bootstrap}" in out
        code, out, _ = kafka("status", "--brokers", "3")
        assert code == 0, out
        assert out.count("running: pid") == 3
        code, out, _ = kafka("status")  # the single broker: not running here, the cluster is
        assert code == 3
        assert "(also running: cluster of 3:" in out
        code, _, err = kafka("up", "--brokers", "2")
        assert code == 1
        assert "has 3 brokers, not 2" in err
        assert kafka("down", "--brokers", "3")[1] == "kafka cluster stopped\n"
        assert kafka("status", "--brokers", "3")[0] == 3
        assert kafka("down", "--brokers", "3", "--wipe")[1] == "kafka cluster was not running\n"
        assert not cluster.root.exists()
    assert not cluster.status().running
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
