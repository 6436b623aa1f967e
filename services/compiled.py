"""Which modules mypyc compiles, and how to run them as pure Python anyway.

Two hot paths are plain typed Python: the flakiness processor's per result (``inputs``
→ ``tracker`` → ``changelog``) and the receiver's per webhook (``webhook_reader``, and
the JSON depth check of ``services.ingest.depth``).
Where a C compiler and mypy are at hand, ``pip install`` (``setup.py``) compiles the
modules of :data:`COMPILED` with mypyc, in one group, into extension modules that sit
beside their sources (``services/flakiness/window.py`` and
``window.cpython-311-….so``, their shared code in ``services/core__mypyc….so``);
Python imports the extension when there is one. Elsewhere the install is pure Python:
the same modules, the same outputs, slower.

``KITESTREAM_PURE_PYTHON=1`` (read once, when ``services`` is imported) makes this
process import the ``.py`` sources even where the extensions exist, which is how the
tests run against both builds and how to rule the compiled build out when in doubt.
This module is never compiled itself (``setup.py`` reads :data:`COMPILED` from it
without importing the package).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import shutil
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = [
    "COMPILED",
    "GROUP",
    "PACKAGE",
    "PURE_PYTHON_ENV",
    "can_compile",
    "compiled_modules",
    "extensions_usable",
    "import_sources_only",
    "is_extension",
    "pure_python_requested",
    "source",
]

log = logging.getLogger(__name__)

PURE_PYTHON_ENV = "KITESTREAM_PURE_PYTHON"

PACKAGE = "services"
# The modules mypyc compiles, under PACKAGE, in one extension group (calls between them
# stay native); its shared library is PACKAGE.GROUP.
COMPILED = (
    "flakiness.execution",
    "flakiness.window",
    "flakiness.runs",
    "flakiness.evidence",
    "flakiness.status",
    "flakiness.tracker",
    "flakiness.inputs",
    "flakiness.segments",
    "flakiness.changelog",
    "flakiness.task",
    "flakiness.partitioner",
    "receiver.webhook_reader",
    "ingest.depth",
)
GROUP = "core__mypyc"
_HERE = Path(__file__).parent


def source(name: str) -> Path:
    """The ``.py`` file of :data:`COMPILED` module ``name``."""
    return _HERE.joinpath(*name.split(".")).with_suffix(".py")


def _extensions(name: str) -> list[Path]:
    """The extension modules of ``name`` beside its source (none in a pure install)."""
    path = source(name)
    return list(path.parent.glob(f"{path.stem}.*.so"))


class _SourceFinder:
    """A meta path finder that answers for the :data:`COMPILED` modules with their
    ``.py`` source, ahead of the extension modules beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.partition(".")
        if package != PACKAGE or name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, source(name))


def can_compile() -> bool:
    """Whether an install here compiles (what ``setup.py`` asks): mypyc importable, a
    C compiler on PATH and Python's headers."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return (
        importlib.util.find_spec("mypyc") is not None
        and bool(cc)
        and shutil.which(cc[0]) is not None
        and header.exists()
    )


def pure_python_requested(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(PURE_PYTHON_ENV, "")
    return value.strip().lower() not in ("", "0", "false", "no")


def extensions_usable() -> bool:
    """Whether the extension modules beside the sources can be used: their shared
    library is there (a compiler that failed half-way leaves shims that cannot load),
    and, in a source checkout (an editable install), no source is newer than its
    extension (edited since the last ``make install``: the extension would run the old
    code). Without extensions at all the answer does not matter, and is ``True``."""
    extensions = [p for name in COMPILED for p in _extensions(name)]
    if not extensions:
        return True
    if importlib.util.find_spec(f"{PACKAGE}.{GROUP}") is None:
        return False
    if not (_HERE.parent / "setup.py").exists():  # installed from a wheel
        return True
    built = min(p.stat().st_mtime for p in extensions)
    stale = [n for n in COMPILED if source(n).stat().st_mtime > built]
    if stale:
        log.warning(
            "%s changed since they were compiled: running the sources (make install "
            "compiles them again)",
            ", ".join(str(source(n).relative_to(_HERE.parent)) for n in stale),
        )
    return not stale


def import_sources_only() -> None:
    """From now on, import the :data:`COMPILED` modules from their sources (call before
    any of them is imported)."""
    if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder())


def is_extension(module: ModuleType) -> bool:
    """Whether ``module`` runs as an extension module (compiled), not from its source."""
    return isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader)


def compiled_modules() -> list[str]:
    """Those of :data:`COMPILED` this process runs as extension modules (imports them)."""
    names = [(name, importlib.import_module(f"{PACKAGE}.{name}")) for name in COMPILED]
    return [name for name, module in names if is_extension(module)]


if __name__ == "__main__":  # the Makefile's inputs of the install: the sources compiled
    print(" ".join(str(source(name).relative_to(_HERE.parent)) for name in COMPILED))
