"""``kitestream store``: read the contract topics into the database.

``kitestream store`` migrates the database to the newest schema (unless
``--no-migrate``), then consumes ``buildkite.builds``, ``buildkite.jobs``,
``tests.results``, ``tests.runs``, ``flakiness.state``, ``deploys``, ``incidents``,
``alerts``, ``tests.quarantine`` and the dispatcher's delivery records until SIGINT or
SIGTERM, serving Prometheus metrics on ``KITESTREAM_METRICS_PORT`` (default 9105, 0 disables).
``kitestream store migrate`` only migrates. See docs/store.md.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from sqlalchemy.engine import Engine

    from services.store.records import Policy
    from services.store.settings import StoreSettings

__all__ = ["add_arguments", "run"]

log = logging.getLogger(__name__)

EPILOG = """examples:
  kitestream store                          # SQLite at .kitestream/store.db
  KITESTREAM_DATABASE_URL=postgresql+psycopg://kite@db/kitestream kitestream store
  kitestream store migrate                  # create or upgrade the tables, then exit
  kitestream store migrate --revision 0001  # to a given revision (also downwards)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate the database at start (it must be at the newest revision)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    migrate = actions.add_parser(
        "migrate",
        help="migrate the database (KITESTREAM_DATABASE_URL) and exit",
        description="Create or upgrade the store's tables (Alembic, scripts in the package).",
    )
    migrate.add_argument(
        "--revision",
        default="head",
        help="target revision: head (default), base, or an id such as 0001",
    )


def run(args: argparse.Namespace) -> int:
    from services.common.logs import configure_logging
    from services.common.settings import load_settings
    from services.store.database import StoreDatabaseError, make_engine
    from services.store.settings import StoreSettings

    settings = load_settings(StoreSettings)  # SettingsError: kitestream says why, exits 2
    configure_logging(settings.log_format, settings.log_level)
    try:
        engine = make_engine(settings.database_url)
    except StoreDatabaseError as exc:
        log.error("KITESTREAM_DATABASE_URL: %s", exc)
        return 2
    try:
        if args.action == "migrate":
            return _migrate(engine, args.revision)
        if not args.no_migrate and _migrate(engine, "head") != 0:
            return 1
        return _serve(settings, engine)
    finally:
        engine.dispose()


def _migrate(engine: Engine, revision: str) -> int:
    import sqlalchemy as sa
    from alembic.util import CommandError

    from services.store import migrate

    try:
        before = migrate.current(engine)
        if revision != "head" and _is_older(revision, before):
            migrate.downgrade(engine, revision)
        else:
            migrate.upgrade(engine, revision)
        after = migrate.current(engine)
    except CommandError as exc:
        log.error("migration failed: %s", exc)
        return 2
    except sa.exc.SQLAlchemyError as exc:
        log.error("database %s: %s", engine.url.render_as_string(hide_password=True), exc)
        return 1
    log.info(
        "store database %s at revision %s (was %s)",
        engine.url.render_as_string(hide_password=True),
        after,
        before,
    )
    return 0


def _is_older(revision: str, current: str | None) -> bool:
    """Whether ``revision`` lies below ``current`` (so reaching it is a downgrade)."""
    from alembic.script import ScriptDirectory

    from services.store.migrate import alembic_config

    if current is None:
        return False
    if revision == "base":
        return True
    script = ScriptDirectory.from_config(alembic_config())
    below = {r.revision for r in script.iterate_revisions(current, "base")}
    return revision in below and revision != current


def _policy(settings: StoreSettings) -> Policy:
    from services.store.records import Policy

    if settings.catalog is None:
        return Policy(store_all_executions=settings.all_executions)
    from services.catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(settings.catalog)
    except CatalogError as exc:
        log.warning("catalog %s not loaded, tests get no service: %s", settings.catalog, exc)
        return Policy(store_all_executions=settings.all_executions)

    def service_of_suite(suite: str) -> str | None:
        owners = sorted(catalog.services_for_suite(suite))
        return owners[0] if owners else None

    return Policy(store_all_executions=settings.all_executions, service_of_suite=service_of_suite)


def _serve(settings: StoreSettings, engine: Engine) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from services.common.lifecycle import run_service

    policy = _policy(settings)
    try:
        return run_service("store", lambda stop: _consume(settings, engine, policy, stop))
    except SQLAlchemyError as exc:
        log.error("store stopped: database error: %s", exc)
        return 1


async def _consume(
    settings: StoreSettings, engine: Engine, policy: Policy, stop: asyncio.Event
) -> None:
    from datetime import timedelta

    from services.common.metrics import serve_metrics
    from services.common.topics import Topics
    from services.quarantine.policy import AutoQuarantine
    from services.store.prune import Retention
    from services.store.service import Store
    from services.store.settings import DEFAULT_METRICS_PORT

    store = Store(
        engine,
        settings.bootstrap_servers,
        Topics(settings.topic_prefix),
        group_id=settings.group_id,
        policy=policy,
        retention=Retention(settings.results_days, settings.rollup_days, settings.events_days),
        prune_interval_s=settings.prune_interval_s,
        prune_batch=settings.prune_batch,
        max_batch=settings.max_batch,
        auto_quarantine=None
        if settings.auto_quarantine is None
        else AutoQuarantine(timedelta(hours=settings.auto_quarantine)),
        auto_interval_s=settings.auto_quarantine_interval_s,
    )
    port = DEFAULT_METRICS_PORT if settings.metrics_port is None else settings.metrics_port
    serve_metrics(store.metrics.registry, port, "store", settings.metrics_host)
    log.info("store reading %s into %s", settings.bootstrap_servers, _shown(engine))
    await store.run(stop)
    log.info("store stopped")


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
