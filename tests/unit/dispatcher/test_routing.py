"""The routes file: what it accepts, what it refuses, and where alerts go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.dispatcher.errors import ConfigError
from services.dispatcher.routing import (
    PAGERDUTY_EVENTS_URL,
    PagerDutySinkConfig,
    Router,
    load_routes,
    parse_routes,
)
from tests.unit.dispatcher.factories import make_alert

DESIGN_EXAMPLE = """
sinks:
  oncall-slack: {type: slack, url_env: SLACK_WEBHOOK_URL}
  audit:        {type: webhook, url: "https://hooks.example.com/kitestream",
                 secret_env: AUDIT_HOOK_SECRET}
  pagerduty:    {type: pagerduty, routing_key_env: PD_ROUTING_KEY}
  rollback:     {type: buildkite_build, organization: acme, pipeline: payments-rollback,
                 token_env: BUILDKITE_API_TOKEN}
  log:          {type: log}
routes:
  - match: {kind: failure_deploy_incident, severity: critical}
    to: [oncall-slack, pagerduty]
  - match: {kind: [flaky_test, flaky_test_recovered]}
    to: [audit]
"""


def routes(*rules: dict[str, Any]) -> Router:
    sinks = {name: {"type": "log"} for name in ("a", "b", "c")}
    return Router(parse_routes({"sinks": sinks, "routes": list(rules)}).routes)


def test_the_design_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(DESIGN_EXAMPLE)
    loaded = load_routes(path)
    assert list(loaded.sinks) == ["oncall-slack", "audit", "pagerduty", "rollback", "log"]
    pagerduty = loaded.sinks["pagerduty"]
    assert isinstance(pagerduty, PagerDutySinkConfig)
    assert pagerduty.events_url == PAGERDUTY_EVENTS_URL
    router = Router(loaded.routes)
    assert router.sinks_for(make_alert()) == ("oncall-slack", "pagerduty")
    assert router.sinks_for(make_alert(kind="flaky_test", severity="warning")) == ("audit",)
    assert router.sinks_for(make_alert(severity="warning")) == ()


def test_match_keys_take_a_value_or_a_list_and_all_must_fit() -> None:
    router = routes(
        {"match": {"service": "payments-api", "severity": ["critical", "warning"]}, "to": "a"}
    )
    assert router.sinks_for(make_alert(severity="warning")) == ("a",)
    assert router.sinks_for(make_alert(severity="info")) == ()
    assert router.sinks_for(make_alert(service="ledger")) == ()
    assert router.sinks_for(make_alert(service=None)) == ()


def test_an_alert_goes_to_the_union_of_matching_routes_each_sink_once_in_order() -> None:
    router = routes(
        {"match": {"kind": "failure_deploy_incident"}, "to": ["b", "a"]},
        {"match": {"severity": "critical"}, "to": ["a", "c"]},
        {"to": "b"},
    )
    assert router.sinks_for(make_alert()) == ("b", "a", "c")
    assert router.sinks_for(make_alert(kind="flaky_test", severity="info")) == ("b",)


def test_team_comes_from_the_callable_and_an_unknown_team_never_matches() -> None:
    teams = {"payments-api": "payments", "ledger": "core"}
    parsed = parse_routes(
        {"sinks": {"a": {"type": "log"}}, "routes": [{"match": {"team": "payments"}, "to": "a"}]}
    )
    assert parsed.uses_team
    router = Router(parsed.routes, teams.get)
    assert router.sinks_for(make_alert(service="payments-api")) == ("a",)
    assert router.sinks_for(make_alert(service="ledger")) == ()
    assert router.sinks_for(make_alert(service="unknown")) == ()
    assert Router(parsed.routes).sinks_for(make_alert(service="payments-api")) == ()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"sinks": {"a": {"type": "log"}}, "routes": [{"to": "nope"}]}, "sends to nope"),
        ({"sinks": {"a": {"type": "fax"}}}, "sinks.a"),
        ({"sinks": {"a": {"type": "log", "colour": "red"}}}, "Extra inputs are not permitted"),
        ({"sinks": {"a": {"type": "slack", "url": "https://x"}}}, "sinks.a.slack.url"),
        ({"sinks": {"a": {"type": "webhook", "secret_env": "S"}}}, "exactly one of url"),
        (
            {"sinks": {"a": {"type": "log"}}, "routes": [{"match": {"kind": "flaky"}, "to": "a"}]},
            "routes.0.match.kind",
        ),
        (
            {"sinks": {"a": {"type": "log"}}, "routes": [{"match": {"when": "x"}, "to": "a"}]},
            "routes.0.match.when",
        ),
        ({"sinks": {"a": {"type": "log"}}, "routes": [{"to": []}]}, "routes.0.to"),
        ({"sinks": {"bad name": {"type": "log"}}}, "sinks.bad name"),
        (["not", "a", "mapping"], "expected a mapping"),
    ],
)
def test_invalid_files_are_refused_with_where_and_why(data: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_routes(data, "routes.yaml")
    assert problem in str(caught.value)
    assert str(caught.value).startswith("routes.yaml: ")


def test_unreadable_or_malformed_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read routes file"):
        load_routes(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sinks: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_routes(bad)
