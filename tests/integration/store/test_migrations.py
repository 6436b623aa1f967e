"""Migrations from an empty database and from the previous revision, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from services.store import migrate, tables
from services.store.database import make_engine


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, tables.metadata))


def test_an_empty_database_migrates_to_exactly_the_tables_of_the_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert migrate.current(engine) is None
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
        assert _differences(engine) == []
        migrate.upgrade(engine)  # again: nothing to do
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_a_database_at_the_previous_revision_upgrades_and_keeps_its_rows(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0001")
        assert "flaky_evidence" not in sa.inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(
                sa.insert(tables.store_offsets).values(
                    group_id="g", topic="alerts", partition=0, next_offset=42
                )
            )
        migrate.upgrade(engine)
        assert _differences(engine) == []
        with engine.connect() as conn:
            assert conn.scalar(sa.select(tables.store_offsets.c.next_offset)) == 42
        migrate.downgrade(engine, "0001")
        assert "flaky_evidence" not in sa.inspect(engine).get_table_names()
        migrate.downgrade(engine, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_kitestream_store_migrate_upgrades_and_goes_back_to_a_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'store.db'}"
    env = {**os.environ, "KITESTREAM_DATABASE_URL": url, "KITESTREAM_LOG_FORMAT": "text"}
    command = [sys.executable, "-m", "services", "store", "migrate"]
    up = _run(command, env)
    assert up.returncode == 0, up.stderr
    assert f"at revision {migrate.head()}" in up.stderr
    down = _run([*command, "--revision", "0001"], env)
    assert down.returncode == 0, down.stderr
    engine = make_engine(url)
    try:
        assert migrate.current(engine) == "0001"
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        assert mode == "wal"
    finally:
        engine.dispose()


def test_an_unknown_revision_or_database_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "KITESTREAM_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    command = [sys.executable, "-m", "services", "store", "migrate", "--revision", "9999"]
    bad_revision = _run(command, env)
    assert bad_revision.returncode == 2
    assert "9999" in bad_revision.stderr
    env["KITESTREAM_DATABASE_URL"] = "mysql://nobody@localhost/x"
    bad_url = _run(command[:5], env)
    assert bad_url.returncode == 2
    assert "sqlite or postgresql" in bad_url.stderr
