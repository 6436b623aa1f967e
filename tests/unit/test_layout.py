"""``services/__init__.py`` says what kind each folder under ``services/`` is."""

from __future__ import annotations

import re
from pathlib import Path

import services

ROOT = Path(services.__file__).parent


def _table() -> dict[str, str]:
    """package -> kind, from the table in ``services/__init__.py``'s docstring."""
    rows = re.findall(r"^(\w+) {2,}(service|library|dev tool) {2,}", services.__doc__ or "", re.M)
    return dict(rows)


def test_every_package_under_services_has_a_kind() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - set(_table()) == set()


def test_every_service_has_its_settings_and_its_cli() -> None:
    services_ = [name for name, kind in _table().items() if kind == "service"]
    assert services_
    for name in services_:
        assert (ROOT / name / "settings.py").is_file(), name
        assert (ROOT / name / "cli.py").is_file(), name


def test_the_table_names_only_what_exists() -> None:
    for name in _table():
        assert (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file(), name
