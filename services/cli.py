"""The ``kitestream`` command: one console script, a subcommand per service and tool.

Each entry of :data:`COMMANDS` names a module with ``add_arguments(parser)`` and
``run(args) -> int``. Logging is configured here, once, before ``run``; a
:class:`~services.common.settings.SettingsError` out of ``run`` is logged one line a
variable and exits 2. Those modules import their heavy dependencies inside ``run`` so
that ``kitestream --help`` and ``kitestream kafka status`` stay quick.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Protocol, cast

__all__ = ["COMMANDS", "build_parser", "main"]


class CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# name -> (module, one-line help). Add a line here when a service lands.
COMMANDS: dict[str, tuple[str, str]] = {
    "kafka": ("services.localkafka.cli", "the local development broker: up, down, status"),
    "topics": ("services.common.topics_cli", "create the contract topics (idempotent)"),
    "demo": ("services.demo", "run the whole system on a local broker (what `make run` does)"),
    "demo-events": ("services.demo_events", "post a failure, deploy, incident and flaky test"),
    "catalog": ("services.catalog.cli", "check the service catalog and show what maps where"),
    "correlator": ("services.correlator.cli", "alert when failure, deploy and incident line up"),
    "receiver": ("services.receiver.cli", "verified webhooks onto Kafka (127.0.0.1:8080)"),
    "dispatcher": ("services.dispatcher.cli", "deliver alerts to Slack, webhooks, PagerDuty…"),
    "alerts": (
        "services.dispatcher.tail",
        "alerts: `tail` the last ones and follow, `list` the stored ones",
    ),
    "flakiness": ("services.flakiness.cli", "flaky tests and steps: windows, flags, alerts"),
    "flaky": ("services.flakiness.listing", "inspect flaky tests: `list [--suite S] [--json]`"),
    "reconcile": ("services.reconcile.cli", "publish finished events whose webhooks were lost"),
    "backfill": ("services.reconcile.backfill_cli", "load past builds and jobs from the REST API"),
    "store": ("services.store.cli", "contract topics into SQL (SQLite, PostgreSQL); `migrate`"),
    "api": ("services.api.cli", "read-only query API on the store (127.0.0.1:8090)"),
    "delivery": ("services.delivery.cli", "DORA four keys of a service or team, with tiers"),
    "tests": ("services.quarantine.cli", "quarantine: `mute`, `skip`, `unmute` a test; `list`"),
}


def _load(module: str) -> CommandModule:
    return cast(CommandModule, importlib.import_module(module))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kitestream",
        description="Buildkite as a stream: webhooks onto Kafka, flakiness, correlated alerts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        loaded = _load(module)
        loaded.add_arguments(command)
        command.set_defaults(_run=loaded.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from services.common.logs import configure_logging

    configure_logging(
        os.environ.get("KITESTREAM_LOG_FORMAT", "auto"),
        os.environ.get("KITESTREAM_LOG_LEVEL", "INFO"),
    )
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last place to say why it stopped
        return _failed(args.command, exc)


def _failed(command: str, exc: Exception) -> int:
    """Log why ``command`` stopped: exit 2 for settings, 1 (with the traceback) otherwise."""
    import logging

    from services.common.settings import SettingsError

    log = logging.getLogger("services")
    if isinstance(exc, SettingsError):
        for problem in exc.problems:
            log.error("kitestream %s cannot start: %s", command, problem)
        return 2
    log.critical("kitestream %s crashed: %r", command, exc, exc_info=exc)
    return 1


if __name__ == "__main__":
    sys.exit(main())
