"""YAML (and JSON) documents read with their line numbers kept.

PyYAML's composer gives nodes that remember where they start; :class:`Node` wraps one
and offers the few typed readings the catalog needs. Every reading that does not fit
records a :class:`~services.catalog.errors.Problem` at the node's line in a shared
:class:`Problems` list and returns an empty value, so one pass reports every mistake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from services.catalog.errors import Problem

__all__ = ["Node", "Problems", "read_document"]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"


@dataclass
class Problems:
    """Errors and warnings found so far, in the order found."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, file: Path, line: int | None, message: str) -> None:
        self.errors.append(Problem(file, line, message))

    def warn(self, file: Path, line: int | None, message: str) -> None:
        self.warnings.append(Problem(file, line, message))


@dataclass(frozen=True)
class Node:
    """A YAML node in a file, with typed readings that report misfits."""

    raw: yaml.Node
    file: Path
    problems: Problems

    @property
    def line(self) -> int:
        return int(self.raw.start_mark.line) + 1

    def fail(self, message: str) -> None:
        self.problems.error(self.file, self.line, message)

    @property
    def is_null(self) -> bool:
        return isinstance(self.raw, yaml.ScalarNode) and self.raw.tag == _NULL

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.raw, yaml.MappingNode)

    def mapping(self, what: str) -> dict[str, Node]:
        """A mapping with string keys; a repeated key is an error (YAML keeps the last)."""
        if self.is_null:
            return {}
        if not isinstance(self.raw, yaml.MappingNode):
            self.fail(f"{what} must be a mapping")
            return {}
        result: dict[str, Node] = {}
        for key_node, value_node in self.raw.value:
            key = Node(key_node, self.file, self.problems)
            name = key.scalar(f"a key in {what}")
            if name is None:
                continue
            if name in result:
                key.fail(f"{what}: {name!r} is given twice")
            result[name] = Node(value_node, self.file, self.problems)
        return result

    def key_lines(self) -> dict[str, int]:
        """The line of each key of a mapping (where a mapping entry is said to be)."""
        if not isinstance(self.raw, yaml.MappingNode):
            return {}
        return {
            str(k.value): int(k.start_mark.line) + 1
            for k, _ in self.raw.value
            if isinstance(k, yaml.ScalarNode)
        }

    def sequence(self, what: str) -> list[Node]:
        if self.is_null:
            return []
        if not isinstance(self.raw, yaml.SequenceNode):
            self.fail(f"{what} must be a list")
            return []
        return [Node(item, self.file, self.problems) for item in self.raw.value]

    def scalar(self, what: str) -> str | None:
        """A string (numbers are read as their text, since slugs and ids can look numeric)."""
        if isinstance(self.raw, yaml.ScalarNode) and self.raw.tag in (_STR, _INT):
            text = str(self.raw.value).strip()
            if text:
                return text
        self.fail(f"{what} must be a non-empty string")
        return None

    def strings(self, what: str) -> list[tuple[str, int]]:
        """A list of strings, each with its line; a single string counts as a list of one."""
        if isinstance(self.raw, yaml.ScalarNode) and self.raw.tag in (_STR, _INT):
            text = self.scalar(what)
            return [(text, self.line)] if text is not None else []
        found = []
        for item in self.sequence(what):
            text = item.scalar(f"each entry of {what}")
            if text is not None:
                found.append((text, item.line))
        return found


def read_document(path: Path, problems: Problems) -> Node | None:
    """The first document of a YAML or JSON file, or ``None`` (with a problem) if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.error(path, None, f"cannot read: {exc}")
        return None
    if path.suffix.lower() == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            problems.error(path, exc.lineno, f"not valid JSON: {exc.msg}")
            return None
        # JSON is YAML, except that YAML refuses tabs as indentation. A raw tab cannot
        # occur inside a JSON string, so every tab here is whitespace.
        text = text.replace("\t", " ")
    try:
        raw = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        problems.error(path, line, f"not valid YAML: {exc.problem or exc}")
        return None
    except yaml.YAMLError as exc:
        problems.error(path, None, f"not valid YAML: {exc}")
        return None
    if raw is None:
        problems.error(path, 1, "the file is empty")
        return None
    return Node(raw, path, problems)
