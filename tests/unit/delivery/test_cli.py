"""``kitestream delivery`` on a store file: the table, the JSON, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from services.cli import main
from services.delivery.table import duration
from tests.unit.api.rows import store_engine
from tests.unit.api.test_delivery import _history

CATALOG = """\
services:
  payments-api:
    pipelines: [payments-api]
    deploy_pipelines: [payments-deploy]
    deploy_steps: [deploy-production]
    pagerduty_services: [PABC123]
    environments: [production]
    depends_on: [ledger]
    team: payments
  ledger: {team: payments}
  search: {team: search}
"""


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    engine = store_engine(str(tmp_path / "store.db"))
    with engine.begin() as conn:
        _history(conn)
    engine.dispose()
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    monkeypatch.setenv("KITESTREAM_CATALOG", str(tmp_path / "catalog.yaml"))
    return f"sqlite:///{tmp_path / 'store.db'}"


RANGE = ["--since", "2026-11-02", "--until", "2026-11-30", "--weeks", "4"]


def test_the_table_shows_each_key_its_tier_the_failed_deploys_and_the_weeks(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delivery", "--service", "payments-api", "--database", database, *RANGE]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "payments-api (team payments), 2026-11-02 00:00 to 2026-11-30 00:00 UTC"
    row = {line.split("  ")[0]: line for line in lines}
    assert "1.0 a week (4 deploys on 3 days)" in row["deployment frequency"]
    assert row["deployment frequency"].split()[-4:] == ["medium", "Four", "Keys:", "monthly"]
    assert row["lead time for changes"].split()[-6:] == [
        "elite", "commit", "time:", "first", "build", "3"
    ]  # fmt: skip
    assert "2h00m (median of 3 deploys)" in row["lead time for changes"]
    assert "50% (2 of 4 deploys)" in row["change failure rate"]
    assert "2h15m (median of 2 resolved incidents)" in row["time to restore"]
    assert any(line.startswith("job:j1") and line.endswith("a1") for line in lines)
    assert any(line.startswith("deploy:dep2") and "latest deploy before" in line for line in lines)
    assert any(line.startswith("2026-11-02  3") for line in lines)


def test_a_team_lists_its_services(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["delivery", "--team", "payments", "--database", database, *RANGE]) == 0
    out = capsys.readouterr().out
    assert out.startswith("team payments, ")
    assert any(line.startswith("ledger ") for line in out.splitlines())


def test_json_is_the_apis_answer(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["delivery", "--service", "search", "--database", database, "--json", *RANGE]
    assert main(args) == 0
    body = orjson.loads(capsys.readouterr().out)
    assert body["deployment_frequency"]["deploys"] == 0
    assert body["notes"][0].startswith("no deploys")


def test_an_unknown_service_exits_1_saying_why(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delivery", "--service", "nobody", "--database", database]) == 1
    assert "no service 'nobody'" in capsys.readouterr().err


def test_service_or_team_is_required() -> None:
    with pytest.raises(SystemExit):
        main(["delivery"])


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (1800, "30m"), (8100, "2h15m"), (86400 * 3.5, "3.5d")],
)
def test_durations_read_as_minutes_hours_or_days(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown
