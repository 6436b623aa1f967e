"""``kitestream reconcile``: publish the finished events whose webhooks were lost."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Every KITESTREAM_RECONCILE_INTERVAL_S seconds (default 300), list the builds "
        "that finished since the last pass (minus KITESTREAM_RECONCILE_OVERLAP_S) from "
        "Buildkite's REST API, for KITESTREAM_BUILDKITE_ORG or the pipelines in "
        "KITESTREAM_RECONCILE_PIPELINES, and publish on buildkite.builds and "
        "buildkite.jobs the build.finished and job.finished events Kafka does not have, "
        'exactly as the receiver would have (same event_id, "source": "rest"). '
        "Needs BUILDKITE_API_TOKEN (read_builds). Counts what was missing in "
        "kitestream_reconcile_missing_total{kind} on :9104/metrics. See docs/reconcile.md."
    )
    parser.epilog = "example: kitestream reconcile --once   # one pass, for cron"
    parser.add_argument(
        "--once", action="store_true", help="one pass, then exit (0 ok, 1 the pass failed)"
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from services.common.lifecycle import run_service
    from services.common.settings import load_settings
    from services.reconcile.service import run_reconcile
    from services.reconcile.settings import HINTS, ReconcileSettings

    settings = load_settings(ReconcileSettings, HINTS)
    status = 0

    async def main(stop: asyncio.Event) -> None:
        nonlocal status
        status = await run_reconcile(settings, stop, once=args.once)

    return run_service("reconcile", main) or status
