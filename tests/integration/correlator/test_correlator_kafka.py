"""``kitestream correlator`` on real Kafka, run as a process like in production."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from schemas.alerts import Alert
from schemas.base import Message
from services.common.topics import Topic, Topics
from services.correlator.alert import alert_id
from tests.integration.correlator.scenario import (
    correlator_process,
    deployed,
    failed_build,
    incident,
    log_lines,
    messages,
    read_alerts,
    read_values,
    run_summary,
)
from tests.kafka_io import committed_reader, produce
from tests.ports import free_port

CATALOG = """
services:
  payments-api:
    pipelines: [payments-api]
    deploy_pipelines: [payments-api-deploy]
    pagerduty_services: [PPAY001]
    depends_on: [ledger]
  ledger:
    pipelines: [ledger]
    pagerduty_services: [PLED001]
  search:
    pipelines: [search]
    pagerduty_services: [PSRC001]
"""


def write_catalog(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return path


async def test_failures_deploys_and_incidents_become_alerts_once_each(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    events: list[Message] = [
        # payments-api: CI fails on the deployed commit, then the incident.
        failed_build("payments-api", "b-pay-1", 10),
        deployed("payments-api", "dep-pay", 0),
        incident("PPAY001", "INC-PAY", 30),
        # ledger: deployed, then failing and paged; payments-api depends on ledger, so
        # the payments incident lines up with the ledger deploy too.
        deployed("ledger", "dep-led", 5, commit="1edge12345"),
        failed_build("ledger", "b-led-1", 15, commit="1edge12345"),
        incident("PLED001", "INC-LED", 40),
        # search: every failing test known flaky (that summary is sent first) -> a warning.
        failed_build("search", "b-src-1", 10),
        deployed("search", "dep-src", 0),
        incident("PSRC001", "INC-SRC", 20),
        # noise: a deploy long before, an incident on a PagerDuty service nobody claims.
        deployed("search", "dep-old", -600),
        incident("PNOBODY", "INC-NONE", 25),
    ]
    random.Random(6).shuffle(events)  # noqa: S311 - an arrival order, not a secret
    expected = {
        alert_id("payments-api", "INC-PAY", "deploy:dep-pay"),
        alert_id("payments-api", "INC-PAY", "deploy:dep-led"),  # ledger is a dependency
        alert_id("ledger", "INC-LED", "deploy:dep-led"),
        alert_id("search", "INC-SRC", "deploy:dep-src"),
    }
    catalog = write_catalog(tmp_path, CATALOG)
    log = tmp_path / "correlator.log"
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        with correlator_process(kafka_bootstrap, kafka_topics, catalog, "solo", log):
            # Flakiness colours the decisions made after the summary was correlated.
            flaky = run_summary("search", "b-src-1", ["t1", "t2"], ["t1", "t2"])
            await produce(kafka_bootstrap, messages(kafka_topics, [flaky]))
            async with committed_reader(
                kafka_bootstrap, kafka_topics.internal("correlator-repartition")
            ) as repartitioned:
                assert len(await read_values(repartitioned, 1, timeout_s=60)) == 1
            await produce(kafka_bootstrap, messages(kafka_topics, events))
            await produce(
                kafka_bootstrap, [(kafka_topics.name(Topic.DEPLOYS), b"junk", b'{"not": 1}')]
            )
            alerts = await read_alerts(reader, [], len(expected), timeout_s=90)
            await read_alerts(reader, alerts, len(expected) + 1, timeout_s=3)  # nothing more
            async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.DLQ)) as dlq:
                letters = await read_values(dlq, 1, timeout_s=30)
    by_id = {a.alert_id: a for a in alerts}
    assert len(alerts) == len(expected), [a.summary for a in alerts]
    assert set(by_id) == expected
    search = by_id[alert_id("search", "INC-SRC", "deploy:dep-src")]
    assert search.severity == "warning"
    assert search.failing_tests_known_flaky is True
    payments = by_id[alert_id("payments-api", "INC-PAY", "deploy:dep-pay")]
    assert payments.severity == "critical"
    assert payments.links["incident"] == "https://acme.pagerduty.com/incidents/INC-PAY"
    assert payments.deploy["rank"] == 1
    assert len(letters) == 1
    assert b"correlator-repartition" in letters[0]


def crash_scenarios(count: int) -> tuple[str, list[Message], list[Message]]:
    """``count`` services, each with a failure, a deploy and an incident that line up.

    The first batch holds two of each service's three events; the second the third.
    """
    services = "\n".join(
        f"  svc-{n:03}:\n    pipelines: [svc-{n:03}]\n    pagerduty_services: [P{n:03}]"
        for n in range(count)
    )
    first: list[Message] = []
    second: list[Message] = []
    rng = random.Random(7)  # noqa: S311 - an arrival order, not a secret
    for n in range(count):
        trio: list[Message] = [
            failed_build(f"svc-{n:03}", f"b-{n:03}", 10),
            deployed(f"svc-{n:03}", f"d-{n:03}", 0),
            incident(f"P{n:03}", f"I-{n:03}", 30),
        ]
        rng.shuffle(trio)
        first += trio[:2]
        second.append(trio[2])
    rng.shuffle(first)
    rng.shuffle(second)
    return f"services:\n{services}\n", first, second


async def test_sigkill_mid_stream_and_restart_give_the_same_alert_set(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    count = 120
    catalog_text, first, second = crash_scenarios(count)
    catalog = write_catalog(tmp_path, catalog_text)
    expected = {alert_id(f"svc-{n:03}", f"I-{n:03}", f"deploy:d-{n:03}") for n in range(count)}
    log = tmp_path / "correlator.log"
    small_batches = {"KITESTREAM_CORRELATOR_MAX_BATCH": "4"}
    alerts: list[Alert] = []
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        await produce(kafka_bootstrap, messages(kafka_topics, first))
        with correlator_process(
            kafka_bootstrap, kafka_topics, catalog, "crashy", log, **small_batches
        ) as victim:
            await produce(kafka_bootstrap, messages(kafka_topics, second))
            await read_alerts(reader, alerts, 10, timeout_s=90)
            victim.send_signal(signal.SIGKILL)
        assert 10 <= len(alerts) < count, "the kill must land mid-stream"
        with correlator_process(
            kafka_bootstrap, kafka_topics, catalog, "crashy", log, **small_batches
        ):
            await read_alerts(reader, alerts, count, timeout_s=120)
            await read_alerts(reader, alerts, count + 1, timeout_s=3)  # a duplicate would show
    ids = [a.alert_id for a in alerts]
    assert len(ids) == len(set(ids)), "no alert twice"
    assert set(ids) == expected
    restored = [line for line in log_lines(log) if "restored" in str(line.get("message"))]
    assert restored, "the restarted correlator restores its state from the changelog"


async def test_sighup_reloads_the_catalog_and_keeps_the_state_and_sigterm_stops_it(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    catalog = write_catalog(tmp_path, CATALOG)
    log = tmp_path / "correlator.log"
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        port = free_port()
        with correlator_process(
            kafka_bootstrap,
            kafka_topics,
            catalog,
            "reload",
            log,
            KITESTREAM_METRICS_PORT=str(port),
        ) as proc:
            # The deploy and the incident arrive while "checkout-ci" maps to nothing.
            await produce(
                kafka_bootstrap,
                messages(
                    kafka_topics,
                    [
                        deployed("search", "dep-1", 0),
                        incident("PSRC001", "INC-1", 30),
                        failed_build("checkout-ci", "b-unmapped", 10),
                    ],
                ),
            )
            # Routed (stage 1) while unmapped, before the reload: no alert from it.
            await _wait_for_records(port, "correlator-repartition", 3)
            assert await read_alerts(reader, [], 1, timeout_s=5) == []
            write_catalog(
                tmp_path, CATALOG.replace("pipelines: [search]", "pipelines: [search, checkout-ci]")
            )
            # SIGHUP's handler is set by the time it says it is up; before, SIGHUP kills it
            await _wait_for_log(log, "correlator up")
            proc.send_signal(signal.SIGHUP)
            await _wait_for_log(log, "catalog reloaded")
            await produce(
                kafka_bootstrap,
                messages(kafka_topics, [failed_build("checkout-ci", "b-mapped", 12)]),
            )
            alerts = await read_alerts(reader, [], 1, timeout_s=60)
            assert proc.poll() is None, "SIGHUP does not stop it"
            proc.send_signal(signal.SIGTERM)
            exit_code = await asyncio.to_thread(proc.wait, 60)
    assert exit_code == 0, "SIGTERM stops it cleanly"
    assert [a.alert_id for a in alerts] == [alert_id("search", "INC-1", "deploy:dep-1")]
    assert alerts[0].failure["failure_id"] == "build:b-mapped"


async def _wait_for_records(port: int, service: str, count: int, timeout_s: float = 60) -> None:
    """Until the process's ``service`` stage has committed ``count`` input records."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    done = 0.0
    async with httpx.AsyncClient() as client:
        while loop.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                done = sum(
                    sample.value
                    for family in text_string_to_metric_families(text)
                    for sample in family.samples
                    if sample.name == "kitestream_processor_records_total"
                    and sample.labels.get("service") == service
                )
                if done >= count:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError(f"{service} committed {done:.0f} of {count} records")


async def _wait_for_log(log: Path, text: str, timeout_s: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if any(text in str(line.get("message")) for line in log_lines(log)):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{text!r} never logged")
