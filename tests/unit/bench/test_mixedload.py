"""The mixed load of ``bench/system.py``: its shape, and that its stories and alerts meet."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import yaml

from bench.mixedload import (
    ALERTS_PER_CYCLE,
    CYCLE,
    MixedLoad,
    alert_key,
    catalog_yaml,
    routes_yaml,
)
from services.catalog import load_catalog
from services.common.topics import Topic
from services.dispatcher.routing import parse_routes

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_cycle_is_four_webhooks_four_uploads_a_deploy_and_an_incident() -> None:
    cycle = MixedLoad("r", start=START).cycle(7, signed_at=1_800_000_000)
    assert len(cycle) == CYCLE
    assert Counter(r.kind for r in cycle) == {"build": 4, "upload": 4, "deploy": 1, "incident": 1}
    assert [r.index for r in cycle] == list(range(70, 80))
    completing = [r for r in cycle if r.completes]
    assert len(completing) == ALERTS_PER_CYCLE
    assert {r.kind for r in completing} == {"incident", "upload"}
    assert all(r.raw.startswith(b"POST /") and r.raw.endswith(r.body) for r in cycle)


def test_requests_go_where_the_receiver_would_put_them() -> None:
    topics = {r.kind: r.topic for r in MixedLoad("r", start=START).cycle(0, signed_at=0)}
    assert topics == {
        "build": Topic.BUILDS,
        "upload": Topic.TEST_RESULTS,
        "deploy": Topic.DEPLOYS,
        "incident": Topic.INCIDENTS,
    }


def test_stories_of_one_service_are_hours_apart_and_never_share_ids() -> None:
    load = MixedLoad("r", services=3, start=START)
    first, again = load.cycle(1, signed_at=0)[0], load.cycle(4, signed_at=0)[0]
    assert first.key == again.key == b"svc-001"
    started = [datetime.fromisoformat(orjson.loads(r.body)["started_at"]) for r in (first, again)]
    assert started[1] - started[0] == timedelta(hours=3)
    keys = [r.completes for n in range(10) for r in load.cycle(n, 0) if r.completes]
    assert len(keys) == len(set(keys)) == 10 * ALERTS_PER_CYCLE


def test_the_alerts_a_story_makes_lead_back_to_its_completing_requests() -> None:
    cycle = MixedLoad("run1", start=START).cycle(2, signed_at=0)
    incident = orjson.loads(next(r for r in cycle if r.kind == "incident").body)
    correlated = {
        "kind": "failure_deploy_incident",
        "incident": {"incident_id": incident["event"]["data"]["id"]},
    }
    flaky_upload = next(r for r in cycle if r.completes and r.kind == "upload")
    names = [e["name"] for e in orjson.loads(flaky_upload.body)["data"]]
    flaky = {"kind": "flaky_test", "test": {"name": names[-1]}}
    assert {alert_key(correlated), alert_key(flaky)} == {r.completes for r in cycle} - {None}
    assert alert_key({"kind": "flaky_test_recovered", "test": {"name": names[-1]}}) is None
    assert alert_key({"kind": "failure_deploy_incident", "incident": None}) is None


def test_the_generated_catalog_and_routes_load(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_yaml(5))
    catalog = load_catalog(path)
    assert catalog.services_for_pipeline("svc-004") == {"svc-004"}
    assert catalog.services_for_pagerduty("PBENCH004") == {"svc-004"}
    routes = parse_routes(yaml.safe_load(routes_yaml("http://127.0.0.1:9/alerts", "HOOK")))
    assert list(routes.sinks) == ["recorder"]
