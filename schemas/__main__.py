"""``python -m schemas``: regenerate ``schemas/json`` from the models."""

from __future__ import annotations

import sys

from schemas.registry import JSON_DIR, render_all


def main() -> int:
    JSON_DIR.mkdir(exist_ok=True)
    for path, content in render_all().items():
        path.write_bytes(content)
        sys.stdout.write(f"wrote {path}\n")
    return 0


sys.exit(main())
