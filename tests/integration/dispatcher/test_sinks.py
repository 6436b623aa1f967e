"""Each sink's request, as a real HTTP server on 127.0.0.1 receives it."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import pytest

from schemas.alerts import Alert
from services.dispatcher.signature import verify
from services.dispatcher.sinks import Envelope
from services.dispatcher.worker import Delivered
from tests.integration.dispatcher.harness import make_sink
from tests.integration.dispatcher.recorder import Received, RecordingServer, Reply
from tests.unit.dispatcher.factories import make_alert, make_job
from tests.unit.dispatcher.workers import running_worker

SECRET = "whsec-test-0123456789"


async def test_webhook_posts_the_alert_json_signed_with_its_id_as_idempotency_key() -> None:
    alert = make_alert(1)
    with RecordingServer() as server:
        sink = make_sink(
            {
                "type": "webhook",
                "url_env": "HOOK_URL",
                "secret_env": "HOOK_SECRET",
                "allow_private": True,
            },
            {"HOOK_URL": server.url("/alerts"), "HOOK_SECRET": SECRET},
        )
        receipt = await sink.send([Envelope(alert)], attempt=1)
        await sink.aclose()
    [got] = server.received
    assert (got.method, got.path) == ("POST", "/alerts")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["idempotency-key"] == alert.alert_id
    assert Alert.model_validate_json(got.body) == alert
    signature = got.headers["x-kitestream-signature"]
    assert verify([SECRET.encode()], got.body, signature, now=int(time.time()))
    assert not verify([b"another secret"], got.body, signature, now=int(time.time()))
    assert receipt.note == "HTTP 200"


async def test_slack_message_has_the_summary_reasons_and_links_in_block_kit() -> None:
    alert = make_alert(2, reasons=["same commit abc123", "payments-api depends on ledger"])
    with RecordingServer() as server:
        sink = make_sink(
            {"type": "slack", "url_env": "SLACK_URL", "allow_private": True},
            {"SLACK_URL": server.url("/services/T0/B0/secret")},
        )
        await sink.send([Envelope(alert)], attempt=1)
        await sink.aclose()
    [got] = server.received
    message = got.json()
    assert alert.summary in message["text"]
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header"
    text = orjson.dumps(blocks).decode()
    assert alert.summary in text
    assert "• same commit abc123" in text
    assert f"<{alert.links['build']}|build>" in text
    assert f"<{alert.links['incident']}|incident>" in text


async def test_slack_coalesces_a_burst_into_one_message_and_keeps_its_interval() -> None:
    interval = 0.3
    burst = [make_alert(n) for n in range(6)]
    with RecordingServer() as server:
        sink = make_sink(
            {"type": "slack", "url_env": "SLACK_URL", "allow_private": True},
            {"SLACK_URL": server.url()},
            slack_interval_s=interval,
        )
        async with running_worker(sink) as (worker, settled):
            worker.submit(make_job(burst[0]))
            await settled.wait(1)
            for alert in burst[1:]:  # arrive while the interval runs
                worker.submit(make_job(alert))
            await settled.wait(6)
    first, second = server.received
    assert len(first.json()["blocks"]) < len(second.json()["blocks"])
    second_text = orjson.dumps(second.json()).decode()
    assert all(alert.summary in second_text for alert in burst[1:])
    assert second.json()["blocks"][0]["text"]["text"].endswith("5 kitestream alerts")
    assert second.at - first.at >= interval * 0.9


async def test_pagerduty_triggers_with_the_alert_id_and_resolves_it_on_recovery() -> None:
    flaky = make_alert(3, kind="flaky_test", severity="warning")
    recovered = make_alert(4, kind="flaky_test_recovered", severity="info")
    never_flagged = make_alert(5, kind="flaky_test_recovered", severity="info")
    with RecordingServer(lambda r, n: Reply(202, b'{"status":"success"}')) as server:
        sink = make_sink(
            {
                "type": "pagerduty",
                "routing_key_env": "PD_KEY",
                "events_url": server.url("/v2/enqueue"),
                "allow_private": True,
            },
            {"PD_KEY": "R0UTINGKEY"},
        )
        async with running_worker(sink) as (worker, settled):
            worker.submit(make_job(flaky, key="suite/test_login"))
            worker.submit(make_job(recovered, key="suite/test_login"))
            worker.submit(make_job(never_flagged, key="suite/test_other"))
            outcomes = await settled.wait(3)
    trigger, resolve = (r.json() for r in server.received)
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == flaky.alert_id
    assert trigger["routing_key"] == "R0UTINGKEY"
    assert trigger["payload"]["summary"] == flaky.summary
    assert trigger["payload"]["severity"] == "warning"
    assert trigger["payload"]["source"] == "payments-api"
    assert {"href": flaky.links["build"], "text": "build"} in trigger["links"]
    assert resolve == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": flaky.alert_id,
    }
    last = outcomes[-1]
    assert isinstance(last, Delivered)
    assert last.receipt.skipped


async def test_buildkite_build_carries_the_alert_and_is_not_started_twice() -> None:
    alert = make_alert(6)
    builds: list[dict[str, Any]] = []

    def buildkite(request: Received, n: int) -> Reply:
        if request.method == "GET":
            wanted = request.query.get("meta_data[kitestream-alert-id]", [""])[0]
            found = [b for b in builds if b["meta_data"]["kitestream-alert-id"] == wanted]
            return Reply(200, orjson.dumps(found))
        build = {**request.json(), "number": len(builds) + 1}
        builds.append(build)
        return Reply(201, orjson.dumps(build))

    with RecordingServer(buildkite) as server:
        sink = make_sink(
            {
                "type": "buildkite_build",
                "organization": "acme",
                "pipeline": "payments-rollback",
                "token_env": "BK_TOKEN",
                "api_url": server.url(""),
                "branch": "release",
                "allow_private": True,
            },
            {"BK_TOKEN": "bkua_secret"},
        )
        first = await sink.send([Envelope(alert)], attempt=1)
        again = await sink.send([Envelope(alert)], attempt=2)
        await sink.aclose()
    assert [r.method for r in server.received] == ["GET", "POST", "GET"]
    post = server.received[1]
    assert post.path == "/v2/organizations/acme/pipelines/payments-rollback/builds"
    assert post.headers["authorization"] == "Bearer bkua_secret"
    body = post.json()
    assert (body["branch"], body["commit"]) == ("release", "HEAD")
    assert body["env"]["KITESTREAM_ALERT_ID"] == alert.alert_id
    assert Alert.model_validate_json(body["env"]["KITESTREAM_ALERT"]) == alert
    assert body["meta_data"]["kitestream-alert-id"] == alert.alert_id
    assert body["meta_data"]["kitestream-alert-service"] == "payments-api"
    assert first.note == "started build #1"
    assert again.note == "build #1 was already started for this alert"
    assert len(builds) == 1


async def test_log_sink_writes_one_line_per_alert(caplog: pytest.LogCaptureFixture) -> None:
    alert = make_alert(7)
    sink = make_sink({"type": "log"})
    with caplog.at_level(logging.INFO, logger="services.dispatcher.sinks.log"):
        await sink.send([Envelope(alert)], attempt=1)
    [record] = caplog.records
    assert alert.summary in record.getMessage()
    assert record.__dict__["alert_id"] == alert.alert_id


async def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    secrets = {
        "SLACK_URL_PATH": "T000/B000/sl4ck-s3cret-path",
        "HOOK_SECRET": "h00k-s3cret",
        "PD_KEY": "pd-r0uting-s3cret",
        "BK_TOKEN": "bk-t0ken-s3cret",
    }

    def failing(request: Received, n: int) -> Reply:
        return Reply(503, b"unwell") if n % 2 == 0 else Reply(200, b"[]")

    caplog.set_level(logging.DEBUG)
    with RecordingServer(failing) as server:
        environ = {
            "SLACK_URL": server.url(f"/services/{secrets['SLACK_URL_PATH']}"),
            "HOOK_URL": server.url(),
            **secrets,
        }
        configs = [
            {"type": "slack", "url_env": "SLACK_URL", "allow_private": True},
            {
                "type": "webhook",
                "url_env": "HOOK_URL",
                "secret_env": "HOOK_SECRET",
                "allow_private": True,
            },
            {
                "type": "pagerduty",
                "routing_key_env": "PD_KEY",
                "events_url": server.url(),
                "allow_private": True,
            },
            {
                "type": "buildkite_build",
                "organization": "o",
                "pipeline": "p",
                "token_env": "BK_TOKEN",
                "api_url": server.url(""),
                "allow_private": True,
            },
        ]
        for n, config in enumerate(configs):
            sink = make_sink(config, environ)
            async with running_worker(sink) as (worker, settled):
                worker.submit(make_job(make_alert(n)))
                await settled.wait(1)
    assert len(server.received) >= 8  # every sink failed once, then succeeded
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "attempt 1 failed" in logged
    for secret in secrets.values():
        assert secret not in logged
