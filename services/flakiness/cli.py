"""``kitestream flakiness``: run the flakiness processor until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Keep rolling windows per test (tests.results) and per pipeline step "
        "(buildkite.jobs), flag flaky ones with hysteresis, and write flakiness.state, "
        "tests.runs and flaky_test / flaky_test_recovered alerts, effectively once. "
        "Alerts name the service KITESTREAM_CATALOG maps the suite or pipeline to "
        "(SIGHUP reloads it). Settings: KITESTREAM_FLAKINESS_* (see the README), "
        "KAFKA_BOOTSTRAP_SERVERS, KITESTREAM_TOPIC_PREFIX. SIGINT or SIGTERM stops after "
        "the current batch."
    )
    parser.add_argument(
        "--instance-id",
        help="this instance's stable id (default: KITESTREAM_FLAKINESS_INSTANCE_ID, "
        "KITESTREAM_INSTANCE_ID or the hostname)",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from services.catalog import CatalogError
    from services.common.lifecycle import run_service
    from services.common.settings import load_settings
    from services.flakiness.service import serve
    from services.flakiness.settings import FlakinessSettings, ServiceSettings

    given = {"instance_id": args.instance_id} if args.instance_id else {}
    settings = load_settings(ServiceSettings, **given)
    core = load_settings(FlakinessSettings)

    async def main(stop: asyncio.Event) -> None:
        await serve(settings, core, stop)

    try:
        return run_service("flakiness processor", main)
    except CatalogError as exc:
        for problem in exc.problems:
            logging.getLogger("services.flakiness").error("catalog: %s", problem)
        return 2
