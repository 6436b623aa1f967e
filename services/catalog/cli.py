"""``kitestream catalog check [FILE]``: validate a service catalog and show what maps where."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check",
        help="validate a catalog and print what maps where",
        description=(
            "Validate a service catalog (and every file it includes), report errors with "
            "file and line, and print each service with the pipelines, deploys, test "
            "suites and PagerDuty services that map to it, plus the pipelines, suites and "
            "PagerDuty services from the resource files that map to nothing. Exit status: "
            "0 valid, 1 errors (or warnings with --strict)."
        ),
    )
    check.add_argument(
        "file",
        nargs="?",
        default=os.environ.get("KITESTREAM_CATALOG"),
        help="the catalog YAML (default: $KITESTREAM_CATALOG)",
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")


def run(args: argparse.Namespace) -> int:
    import orjson

    from services.catalog.errors import CatalogError
    from services.catalog.loader import load_catalog
    from services.catalog.report import describe, render_text

    if not args.file:
        sys.stderr.write("catalog check: give a FILE or set KITESTREAM_CATALOG\n")
        return 2
    try:
        catalog = load_catalog(args.file)
    except CatalogError as exc:
        if args.json:
            errors = {
                "errors": [str(p) for p in exc.problems],
                "warnings": [str(p) for p in exc.warnings],
            }
            sys.stdout.write(orjson.dumps(errors, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            lines = [f"error: {p}" for p in exc.problems] + [f"warning: {p}" for p in exc.warnings]
            sys.stderr.write("\n".join(lines) + f"\n{len(exc.problems)} errors\n")
        return 1
    if args.json:
        sys.stdout.write(
            orjson.dumps(describe(catalog), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        sys.stdout.write(render_text(catalog))
    return 1 if args.strict and catalog.warnings else 0
