"""``kitestream backfill``: load past builds and jobs from the REST API, once."""

from __future__ import annotations

import argparse

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
    parser.add_argument("--since", default="14d", help="how far back: 14d, 36h, 2w (default 14d)")
    parser.add_argument(
        "--pipeline",
        action="append",
        default=[],
        metavar="SLUG",
        help="a pipeline to backfill (repeat for more; default: KITESTREAM_RECONCILE_PIPELINES, "
        "else the whole organization)",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from services.common.lifecycle import run_until_signalled
    from services.reconcile.backfill import backfill
    from services.reconcile.cli import load_settings
    from services.reconcile.service import FAILURES
    from services.reconcile.settings import ReconcileSettings
    from services.reconcile.timestamps import parse_duration

    log = logging.getLogger("services.reconcile")
    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        log.error("--since: %s", exc)
        return 2
    settings = load_settings()
    if not isinstance(settings, ReconcileSettings):
        return 2
    status = 0

    async def main(stop: asyncio.Event) -> None:
        nonlocal status
        try:
            await backfill(settings, since, args.pipeline or settings.pipelines, stop)
        except FAILURES as exc:
            log.error("backfill stopped: %s (run it again to resume)", exc)
            status = 1

    return run_until_signalled(main) or status
