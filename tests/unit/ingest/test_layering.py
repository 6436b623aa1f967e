"""Imports point one way: the receiver imports ``services.ingest``, never the reverse.

The ingest package is the pure layer under the receiver's HTTP shell (request pieces,
credentials, parsers, the refusal tree); an import of the receiver from here would tie
the two into one again.
"""

from __future__ import annotations

import ast
from pathlib import Path

import services.ingest

INGEST = Path(services.ingest.__file__).parent
FORBIDDEN = "services.receiver"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (at any depth: in functions and TYPE_CHECKING too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = ".".join(["services", "ingest"][: 2 - (node.level - 1)])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found += [(node.lineno, module)]
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _is_forbidden(module: str) -> bool:
    return module == FORBIDDEN or module.startswith(FORBIDDEN + ".")


def test_no_ingest_module_imports_the_receiver() -> None:
    modules = sorted(INGEST.rglob("*.py"))
    assert len(modules) > 5, modules
    offending = [
        f"{path.relative_to(INGEST.parent.parent)}:{line} imports {module}"
        for path in modules
        for line, module in _imports(path)
        if _is_forbidden(module)
    ]
    assert offending == []


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "import services.receiver.app\n"
        "from services.receiver import routes\n"
        "from services import receiver\n"
        "def late():\n"
        "    from services.receiver.body import read_body\n"
        "from services.receivers_elsewhere import x\n"
    )
    caught = sorted({line for line, module in _imports(source) if _is_forbidden(module)})
    assert caught == [1, 2, 3, 5]
