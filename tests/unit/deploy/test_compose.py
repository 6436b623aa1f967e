"""deploy/compose.yml stays in step with the CLI and the demo configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.cli import COMMANDS, build_parser
from services.demo import SERVICES

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yml").read_text())


def kitestream_services() -> dict[str, dict[str, object]]:
    return {name: spec for name, spec in COMPOSE["services"].items() if name != "kafka"}


def test_compose_runs_every_service_that_make_run_runs() -> None:
    commands = {spec["command"][0] for spec in kitestream_services().values()}  # type: ignore[index]
    assert {argv[0] for argv in SERVICES} <= commands


@pytest.mark.parametrize("name", sorted(kitestream_services()))
def test_each_compose_command_parses_as_a_kitestream_command(name: str) -> None:
    command = kitestream_services()[name]["command"]
    assert isinstance(command, list)
    assert command[0] in COMMANDS
    build_parser().parse_args(command)  # exits (fails the test) on unknown arguments


def test_the_demo_files_the_services_read_exist() -> None:
    env = kitestream_services()["receiver"]["environment"]
    assert isinstance(env, dict)
    for key in ("KITESTREAM_CATALOG", "KITESTREAM_ROUTES"):
        assert (ROOT / env[key].removeprefix("/app/")).is_file()


@pytest.mark.parametrize("name", ["flakiness", "correlator", "dispatcher"])
def test_processors_serve_metrics_beyond_the_container(name: str) -> None:
    env = kitestream_services()[name]["environment"]
    assert isinstance(env, dict)
    assert env["KITESTREAM_METRICS_HOST"] == "0.0.0.0"  # noqa: S104
