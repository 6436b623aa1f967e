"""``kitestream backfill``: load past builds and jobs from the REST API, once."""

from __future__ import annotations

import argparse
from datetime import timedelta

from services.reconcile.timestamps import parse_duration

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Publish the build.finished and job.finished events of the last --since "
        "(default 14d) from Buildkite's REST API onto buildkite.builds and buildkite.jobs, "
        "oldest first (event-time order per pipeline), skipping what Kafka already has. "
        "Shows progress on stderr; interrupted, run it again to resume. Needs "
        "BUILDKITE_API_TOKEN (read_builds) and KITESTREAM_BUILDKITE_ORG. See "
        "docs/reconcile.md."
    )
    parser.epilog = "example: kitestream backfill --since 14d --pipeline payments-api"
    parser.add_argument(
        "--since",
        type=_duration,
        default=timedelta(days=14),
        help="how far back: 14d, 36h, 2w (default 14d)",
    )
    parser.add_argument(
        "--pipeline",
        action="append",
        default=[],
        metavar="SLUG",
        help="a pipeline to backfill (repeat for more; default: KITESTREAM_RECONCILE_PIPELINES, "
        "else the whole organization)",
    )


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from services.common.lifecycle import run_service
    from services.common.settings import load_settings
    from services.reconcile.backfill import backfill
    from services.reconcile.service import FAILURES
    from services.reconcile.settings import HINTS, ReconcileSettings

    log = logging.getLogger("services.reconcile")
    since: timedelta = args.since
    settings = load_settings(ReconcileSettings, HINTS)
    status = 0

    async def main(stop: asyncio.Event) -> None:
        nonlocal status
        try:
            await backfill(settings, since, args.pipeline or settings.pipelines, stop)
        except FAILURES as exc:
            log.error("backfill stopped: %s (run it again to resume)", exc)
            status = 1

    return run_service("backfill", main) or status
