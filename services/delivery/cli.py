"""``kitestream delivery --service NAME | --team TEAM``: the four keys as a table.

Reads the same answer as ``/api/v1/services/{name}/delivery`` (or the team's): from a
running query API (``--api URL``) or straight from the store's database
(``--database URL``, default ``$KITESTREAM_DATABASE_URL``), as ``alerts list`` does.
"""

from __future__ import annotations

import argparse
import logging
import sys

from services.api.listing import add_source_arguments, read_store, time_argument

__all__ = ["add_arguments", "run"]

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Deployment frequency, lead time for changes, change failure rate and time to "
        "restore of a service or a team, with their DORA tiers and a weekly trend "
        "(definitions: docs/delivery.md)."
    )
    parser.epilog = "example: kitestream delivery --service payments-api --since 12w"
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--service", help="a service of the catalog (or a name deploys are sent as)")
    who.add_argument("--team", help="every catalog service of this team, together")
    parser.add_argument(
        "--since",
        type=time_argument,
        metavar="TIME",
        help="start: 2026-08-01T10:00:00Z, 2026-08-01, or how long ago (30d, 12w); "
        "default 12 weeks before --until",
    )
    parser.add_argument(
        "--until", type=time_argument, metavar="TIME", help="end, excluded (default now)"
    )
    parser.add_argument(
        "--weeks", type=int, default=12, metavar="N", help="weeks in the trend (12)"
    )
    parser.add_argument("--json", action="store_true", help="the API's JSON instead of a table")

    add_source_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import orjson

    from services.api.routes import ROUTES
    from services.delivery.table import render

    operation, path = (
        ("getServiceDelivery", {"name": args.service})
        if args.service
        else ("getTeamDelivery", {"team": args.team})
    )
    route = next(r for r in ROUTES if r.operation_id == operation)
    params = {"weeks": str(args.weeks)}
    params |= {k: v for k in ("since", "until") if (v := getattr(args, k)) is not None}
    body = read_store(args, "read delivery metrics", lambda r: r.page(route, params, path))
    if body is None:
        return 1
    if args.json:
        sys.stdout.write(
            orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode() + "\n"
        )
    else:
        sys.stdout.write(render(body))
    return 0
