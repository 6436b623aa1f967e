"""``kitestream tests mute|skip|unmute|list``: quarantine through the query API.

Changes go through ``POST /api/v1/quarantine`` of a running ``kitestream api``
(``--api``, default ``$KITESTREAM_API_URL`` or ``http://127.0.0.1:8090``) with a write
token (``--token``, default ``$KITESTREAM_WRITE_TOKEN``); ``list`` reads
``GET /api/v1/quarantine`` with a read token (``$KITESTREAM_READ_TOKEN``)::

    kitestream tests mute payments-pytest/tests/test_pay.py/test_refund \\
        --reason "flaky since the ledger upgrade" --for 7d
    kitestream tests skip --suite payments-pytest --scope tests/test_pay.py \\
        --name test_hangs --reason "hangs on arm64"
    kitestream tests unmute payments-pytest/tests/test_pay.py/test_refund
    kitestream tests list --suite payments-pytest
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from services.dispatcher.alertfilter import parse_duration

__all__ = ["add_arguments", "parse_for", "run"]

log = logging.getLogger(__name__)

DEFAULT_API = "http://127.0.0.1:8090"
_STATES = {"mute": "muted", "skip": "skipped", "unmute": "active"}


def parse_for(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` as a duration (``argparse`` type), as ``--since``
    reads them."""
    duration = parse_duration(text)
    if duration is None or duration <= timedelta():
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 12h, 7d, 2w: {text!r}")
    return duration


def _until(text: str) -> datetime:
    from services.api.errors import InvalidQuery
    from services.api.params import parse_time

    try:
        return parse_time("--until", text)
    except InvalidQuery as exc:
        raise argparse.ArgumentTypeError(exc.detail) from None


def _source(parser: argparse.ArgumentParser, token_env: str) -> None:
    parser.add_argument(
        "--api",
        metavar="URL",
        default=os.environ.get("KITESTREAM_API_URL", DEFAULT_API),
        help=f"the query API (default $KITESTREAM_API_URL or {DEFAULT_API})",
    )
    parser.add_argument("--token", help=f"bearer token (default ${token_env})")
    parser.set_defaults(token_env=token_env)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__.split("::", 1)[1] if __doc__ else None
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (
        ("mute", "mute a test: it runs and reports, its failure does not fail the build"),
        ("skip", "skip a test: runners do not run it"),
        ("unmute", "make a muted or skipped test active again"),
    ):
        sub = actions.add_parser(action, help=help_text, description=help_text)
        _source(sub, "KITESTREAM_WRITE_TOKEN")
        sub.add_argument("key", nargs="?", help="the test key (suite/scope/name[/file])")
        sub.add_argument("--suite", help="the test's suite (instead of a key)")
        sub.add_argument("--scope", default="", help="the test's scope, e.g. tests/test_pay.py")
        sub.add_argument("--name", help="the test's name, e.g. test_refund")
        sub.add_argument("--file", help="the test's file, when its key has one")
        sub.add_argument(
            "--reason", default="", help="why (required to mute or skip)", required=False
        )
        sub.add_argument("--by", default=None, help="who (default: your user name)")
        if action != "unmute":
            until = sub.add_mutually_exclusive_group()
            until.add_argument("--for", dest="for_", type=parse_for, metavar="DURATION",
                               help="lapse after this long: 30m, 12h, 7d, 2w")  # fmt: skip
            until.add_argument("--until", type=_until, metavar="TIME",
                               help="lapse at this time (RFC 3339 or a date, UTC)")  # fmt: skip
    listing = actions.add_parser(
        "list", help="tests muted or skipped now", description="Tests muted or skipped now."
    )
    _source(listing, "KITESTREAM_READ_TOKEN")
    listing.add_argument("--suite", help="only this suite")
    listing.add_argument("--state", choices=("muted", "skipped"), help="only this state")
    listing.add_argument("--json", action="store_true", help="JSON (one array)")


def _body(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "state": _STATES[args.action],
        "reason": args.reason,
        "by": args.by or os.environ.get("USER") or getpass.getuser(),
    }
    if args.key:
        body["key"] = args.key
    else:
        body.update(suite=args.suite, scope=args.scope, name=args.name)
        if args.file:
            body["file"] = args.file
    until: datetime | None = getattr(args, "until", None)
    duration: timedelta | None = getattr(args, "for_", None)
    if duration is not None:
        until = now + duration
    if until is not None:
        body["until"] = until.isoformat().replace("+00:00", "Z")
    return body


def run(args: argparse.Namespace) -> int:
    from services.quarantine.client import ClientError, QuarantineClient

    token = args.token or os.environ.get(args.token_env)
    if args.action != "list" and not args.key and not (args.suite and args.name):
        log.error("name the test: a key, or --suite and --name (and --scope, --file)")
        return 2
    with QuarantineClient(args.api, token) as client:
        try:
            if args.action == "list":
                return _list(client, args)
            answer = client.change(_body(args, datetime.now(UTC)))
        except ClientError as exc:
            log.error("%s: %s", args.api, exc)
            return 1
    if not answer.get("changed"):
        sys.stdout.write(f"{answer.get('key')}: already active, nothing to change\n")
        return 0
    change = answer["change"]
    until = f" until {change['until']}" if change.get("until") else ""
    sys.stdout.write(f"{change['key']}: {change['state']}{until} ({change['reason'] or '-'})\n")
    return 0


def _list(client: Any, args: argparse.Namespace) -> int:
    import orjson

    found = client.listing(suite=args.suite, state=args.state)
    if args.json:
        sys.stdout.write(orjson.dumps([vars(q) for q in found]).decode() + "\n")
        return 0
    if not found:
        sys.stdout.write("no test is muted or skipped\n")
        return 0
    sys.stdout.write(f"{'STATE':<8} {'UNTIL':<21} {'BY':<12} TEST (REASON)\n")
    for q in found:
        sys.stdout.write(
            f"{q.state:<8} {(q.until or '-'):<21} {q.set_by[:12]:<12} {q.key} ({q.reason})\n"
        )
    return 0
