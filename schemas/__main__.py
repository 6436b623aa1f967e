"""``python -m schemas``: regenerate ``schemas/json`` and ``schemas/asyncapi.yaml``."""

from __future__ import annotations

import argparse
import sys

from schemas.asyncapi import ASYNCAPI_PATH, render_asyncapi
from schemas.registry import JSON_DIR, render_all


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m schemas",
        description=(
            "Rewrite the JSON Schema of every topic (schemas/json/) and the AsyncAPI "
            "document of the topics (schemas/asyncapi.yaml) from the message models. "
            "Run it after changing a model; a test fails while they differ."
        ),
    ).parse_args(argv)
    JSON_DIR.mkdir(exist_ok=True)
    for path, content in {**render_all(), ASYNCAPI_PATH: render_asyncapi()}.items():
        path.write_bytes(content)
        sys.stdout.write(f"wrote {path}\n")
    return 0


sys.exit(main())
