"""What each sink sends, built without any network."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.alerts import Alert
from services.dispatcher.signature import verify
from services.dispatcher.sinks.buildkite import build_request
from services.dispatcher.sinks.pagerduty import pagerduty_event
from services.dispatcher.sinks.slack import MAX_ALERTS_PER_MESSAGE, slack_message
from services.dispatcher.sinks.webhook import webhook_headers
from tests.unit.dispatcher.factories import make_alert


def texts(message: dict[str, Any]) -> str:
    return orjson.dumps(message["blocks"]).decode()


def test_slack_escapes_control_characters_and_drops_non_http_links() -> None:
    alert = make_alert(
        summary="p99 <200ms> & rising",
        links={"build": "https://b.example/1?a=1|2", "shell": "ssh://host", "x": "javascript:1"},
    )
    message = slack_message([alert])
    blocks = texts(message)
    assert "p99 &lt;200ms&gt; &amp; rising" in blocks
    assert "<https://b.example/1?a=1%7C2|build>" in blocks
    assert "ssh://" not in blocks
    assert "javascript" not in blocks


def test_slack_keeps_within_block_kit_limits() -> None:
    long = make_alert(summary="x" * 5000, reasons=["r" * 4000])
    message = slack_message([long])
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    assert len(message["text"]) <= 3000
    many = slack_message([make_alert(n) for n in range(MAX_ALERTS_PER_MESSAGE)])
    assert len(many["blocks"]) <= 50


def test_a_coalesced_slack_message_leads_with_the_worst_severity() -> None:
    alerts = [make_alert(1, severity="info"), make_alert(2, severity="critical")]
    header = slack_message(alerts)["blocks"][0]["text"]["text"]
    assert header == ":rotating_light: 2 kitestream alerts"


def test_pagerduty_trigger_carries_the_alert_and_its_dedup_key() -> None:
    alert = make_alert(3, failure={"build": 42}, deploy={"commit": "abc"})
    event = pagerduty_event(alert, "key")
    assert event is not None
    assert event["dedup_key"] == alert.alert_id
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["timestamp"] == "2026-08-01T10:03:00+00:00"
    assert event["payload"]["custom_details"]["failure"] == {"build": 42}
    assert event["payload"]["custom_details"]["deploy"] == {"commit": "abc"}
    assert "incident" not in event["payload"]["custom_details"]
    long = pagerduty_event(make_alert(summary="s" * 2000), "key")
    assert long is not None
    assert len(long["payload"]["summary"]) == 1024


def test_pagerduty_recovery_resolves_only_what_was_triggered() -> None:
    recovered = make_alert(4, kind="flaky_test_recovered", severity="info")
    assert pagerduty_event(recovered, "key") is None
    assert pagerduty_event(recovered, "key", resolves="t1") == {
        "routing_key": "key",
        "event_action": "resolve",
        "dedup_key": "t1",
    }


def test_buildkite_build_gets_the_alert_in_env_and_meta_data() -> None:
    alert = make_alert(5, service=None)
    body = build_request(alert, branch="main", commit="HEAD")
    assert Alert.model_validate_json(body["env"]["KITESTREAM_ALERT"]) == alert
    assert Alert.model_validate_json(body["meta_data"]["kitestream-alert"]) == alert
    assert "KITESTREAM_ALERT_SERVICE" not in body["env"]  # meta-data values must not be empty
    assert all(isinstance(v, str) and v for v in body["meta_data"].values())


def test_webhook_headers_sign_the_exact_body() -> None:
    body = make_alert(6).to_json()
    headers = webhook_headers("a6", body, b"secret", timestamp=1000, attempt=2)
    assert headers["Idempotency-Key"] == "a6"
    assert headers["X-Kitestream-Attempt"] == "2"
    assert verify([b"secret"], body, headers["X-Kitestream-Signature"], now=1000)
