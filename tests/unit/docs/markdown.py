"""Links and headings of the Markdown documents, read the way GitHub renders them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Link", "anchors", "broken_links", "links", "slug"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"`[^`]*`")
# [text](target) and ![alt](target); the target ends at whitespace or ")".
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str


def _prose(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped
    (letters, digits, ``_`` and ``-`` kept), spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a document; repeated headings get ``-1``, ``-2``…"""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in _prose(text):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[Link]:
    """The links of a document, outside code blocks and code spans."""
    return [
        Link(path, number, match.group(1))
        for number, line in _prose(path.read_text())
        for match in _LINK.finditer(_CODE_SPAN.sub("", line))
    ]


def broken_links(paths: list[Path]) -> list[str]:
    """``file:line: target (why)`` for every relative link that leads nowhere: a file or
    folder that does not exist, or an ``#anchor`` that no heading of its document has."""
    problems: list[str] = []
    for link in (link for path in paths for link in links(path)):
        if _EXTERNAL.match(link.target):
            continue
        where, _, anchor = link.target.partition("#")
        target = (link.source.parent / where).resolve() if where else link.source
        why = ""
        if not target.exists():
            why = "no such file"
        elif anchor and target.suffix != ".md":
            why = "an anchor into a file that is not Markdown"
        elif anchor and anchor not in anchors(target.read_text()):
            why = f"no heading #{anchor} in {target.name}"
        if why:
            problems.append(f"{link.source.name}:{link.line}: {link.target} ({why})")
    return problems
