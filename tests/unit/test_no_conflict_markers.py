"""No file in the tree carries a merge's conflict markers (a merge once committed some)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    return [ROOT / name.decode() for name in listed if name]


def test_no_tracked_file_has_conflict_markers() -> None:
    found = []
    for path in _tracked_text_files():
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        found += [
            f"{path.relative_to(ROOT)}: {m.group(0)!r}"
            for m in MARKER.finditer(data.decode("utf-8", "replace"))
        ]
    assert found == []
