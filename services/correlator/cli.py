"""``kitestream correlator``: alert when a CI failure lines up with a deploy and an incident."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Correlate failed builds and deploys, deploys and incidents per service (as the "
        "catalog in KITESTREAM_CATALOG maps them) and write failure_deploy_incident "
        "alerts to the alerts topic. Windows and retention are KITESTREAM_CORRELATOR_* "
        "settings. SIGHUP reloads the catalog; SIGINT or SIGTERM stops after the "
        "current batch."
    )
    parser.add_argument(
        "--instance-id",
        help="this instance's stable id (default: KITESTREAM_CORRELATOR_INSTANCE_ID or hostname)",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from services.catalog import CatalogError
    from services.common.lifecycle import run_service
    from services.common.settings import load_settings
    from services.correlator.service import run_correlator
    from services.correlator.settings import CorrelatorSettings

    log = logging.getLogger("services.correlator")
    given = {"instance_id": args.instance_id} if args.instance_id else {}
    settings = load_settings(CorrelatorSettings, **given)

    async def main(stop: asyncio.Event) -> None:
        await run_correlator(settings, stop)

    try:
        return run_service("correlator", main)
    except CatalogError as exc:
        for problem in exc.problems:
            log.error("catalog: %s", problem)
        return 2
