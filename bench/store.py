"""Store benchmark: test results from Kafka into the database, against a bare executemany.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python bench/store.py
    ... bench/store.py --database-url postgresql+psycopg://kitestream@127.0.0.1:5432/bench

``--results`` test executions (200 tests, a tenth failing, durations spread over
three orders of magnitude) are produced to a fresh ``tests.results`` (3 partitions).
Then, in this process and this run, each on a fresh database (SQLite files under a
temporary directory unless ``--database-url`` names a PostgreSQL server, where a
database per pass is created and dropped):

* store: the store (``KITESTREAM_STORE_ALL_EXECUTIONS`` on, so every execution is a
  ``test_results`` row, plus its day rollup, its ``tests`` row and the offsets, all in
  one transaction per batch of ``--batch`` records) reads them from Kafka. Timed from
  the first committed batch to the last (the group join before it is not the store's
  throughput), over the records after that first batch;
* store without Kafka: the same records, already in memory, through the store's decode,
  fold and transaction (rows and offsets), to tell the store's own cost from Kafka's;
* bare: the same ``test_results`` rows, decoded beforehand, inserted with one
  ``executemany`` per ``--batch`` rows and a commit after each, nothing else.

Each pass also counts this process's CPU time over its span (``time.process_time``, all
threads): rows per CPU second, and the same ratios by CPU time, which other work on a
shared machine moves less than wall time.

The passes alternate ``--repeat`` times (bare, store, store without Kafka, bare, ...),
each on a fresh database (the store in a new consumer group, from the start of the
topic). The machine
is shared and its load moves: each round's ratio (store / the bare pass just before it)
is printed, with their median, and each side's best pass.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.common.topics import Topics, create_topics, delete_topics, topic_specs
from services.store import migrate
from services.store.batch import Batch
from services.store.database import make_engine
from services.store.prune import Retention
from services.store.records import DECODERS, Policy
from services.store.service import Store
from services.store.tables import store_offsets, test_results
from services.store.writer import write_batch
from tests.integration.store.tables_io import produce
from tests.store_stream import Message, raw, result


class Pass(NamedTuple):
    """One pass: rows per second of wall time, and per second of this process's CPU
    time over the same span (less moved by other work on a shared machine)."""

    rate: float
    cpu_rate: float


def _results(count: int) -> list[Message]:
    messages: list[Message] = []
    for n in range(count):
        outcome = "failed" if n % 10 == 0 else "passed"
        execution = result(
            n,
            f"test_{n % 200}",
            outcome,
            n / 1000,
            build_id=f"b{n // 200}",
            duration_s=0.001 * (1 + n % 997),
            suite=f"suite-{n % 3}",
        )
        messages.append(("tests.results", f"suite-{n % 3}".encode(), execution))
    return messages


@contextmanager
def _database(server: str | None, tmp: Path, name: str) -> Iterator[Engine]:
    if server is None:
        engine = make_engine(f"sqlite:///{tmp / f'{name}.db'}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    engine = make_engine(sa.make_url(server).set(database=database))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.sum(store_offsets.c.next_offset))) or 0)


async def _store_pass(
    engine: Engine, bootstrap: str, topics: Topics, total: int, *, batch: int, group: str
) -> Pass:
    store = Store(
        engine,
        bootstrap,
        topics,
        group_id=group,
        policy=Policy(store_all_executions=True),
        retention=Retention(0, 0, 0),
        max_batch=batch,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    try:
        first = 0
        while first == 0:
            first = await asyncio.to_thread(_stored, engine)
            await asyncio.sleep(0.05)
        started, cpu = time.perf_counter(), time.process_time()
        done = first
        while done < total:
            await asyncio.sleep(0.05)
            done = await asyncio.to_thread(_stored, engine)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return Pass((total - first) / elapsed, (total - first) / max(cpu, 1e-9))


def _core_pass(engine: Engine, messages: list[Message], batch: int) -> Pass:
    """The store without Kafka: the same records, in memory, through decode, fold and
    the transaction with offsets."""
    records = [(topic, key, raw(value)) for topic, key, value in messages]
    policy = Policy(store_all_executions=True)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), batch):
        folded = Batch(policy=policy)
        for offset, (topic, key, value) in enumerate(records[start : start + batch], start):
            folded.add_record(topic, 0, offset, key=key, value=value, base_topic=topic)
        expected = {(topic, 0): (start or None) for topic, _, _ in records[:1]}
        write_batch(engine, folded, "core", expected)
    return Pass(
        len(records) / (time.perf_counter() - started),
        len(records) / (time.process_time() - cpu),
    )


def _bare_pass(engine: Engine, messages: list[Message], batch: int) -> Pass:
    policy = Policy(store_all_executions=True)
    rows = [
        row.values
        for topic, key, value in messages
        for row in DECODERS[topic](raw(value), key, policy)
        if row.statement == "test_results"
    ]
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), batch):
        with engine.begin() as conn:
            conn.execute(sa.insert(test_results), rows[start : start + batch])
    return Pass(
        len(rows) / (time.perf_counter() - started), len(rows) / (time.process_time() - cpu)
    )


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per transaction")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite files)")
    parser.add_argument("--repeat", type=int, default=3, help="passes of each, alternating")
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:8]}.")
    messages = _results(args.results)
    try:
        await create_topics(bootstrap, topic_specs(topics), partitions=3)
        total = await produce(bootstrap, topics, messages)
        store_passes: list[Pass] = []
        bare_passes: list[Pass] = []
        core_passes: list[Pass] = []
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.repeat):
                with _database(args.database_url, Path(tmp), f"bare{n}") as engine:
                    bare_passes.append(_bare_pass(engine, messages, args.batch))
                with _database(args.database_url, Path(tmp), f"store{n}") as engine:
                    group = f"{topics.prefix}bench{n}"
                    passed = await _store_pass(
                        engine, bootstrap, topics, total, batch=args.batch, group=group
                    )
                    store_passes.append(passed)
                with _database(args.database_url, Path(tmp), f"core{n}") as engine:
                    core_passes.append(_core_pass(engine, messages, args.batch))
    finally:
        await delete_topics(bootstrap, topics.prefix)
    stores, bares, cores = ([p.rate for p in ps] for ps in (store_passes, bare_passes, core_passes))
    store, bare, core = max(stores), max(bares), max(cores)
    kind = "postgresql" if args.database_url else "sqlite"
    print(
        f"{args.results} test results, {kind}, {args.batch} per transaction, best of {args.repeat}"
    )
    print(
        f"  passes (rows/s): store {[round(x) for x in stores]},"
        f" store without Kafka {[round(x) for x in cores]}, bare {[round(x) for x in bares]}"
    )
    print(f"  store (Kafka -> rows, rollups, offsets): {store:10,.0f} rows/s")
    print(f"  the store without Kafka (same records): {core:10,.0f} rows/s")
    print(f"  bare executemany of the same rows:      {bare:10,.0f} rows/s")
    rounds = [s / b for s, b in zip(stores, bares, strict=True)]
    print(f"  ratio store / bare per round: {', '.join(f'{r:.2f}' for r in rounds)}")
    print(f"  median ratio store / bare: {statistics.median(rounds):.2f} (aim >= 0.5)")
    print(f"  ratio of the bests: {store / bare:.2f}")
    print(f"  ratio store without Kafka / bare: {core / bare:.2f}")
    cpu = [s.cpu_rate / b.cpu_rate for s, b in zip(store_passes, bare_passes, strict=True)]
    core_cpu = [c.cpu_rate / b.cpu_rate for c, b in zip(core_passes, bare_passes, strict=True)]
    print(
        "  by this process's CPU time (rows per CPU second): store"
        f" {[round(p.cpu_rate) for p in store_passes]}, store without Kafka"
        f" {[round(p.cpu_rate) for p in core_passes]},"
        f" bare {[round(p.cpu_rate) for p in bare_passes]}"
    )
    print(
        f"  CPU ratio store / bare per round: {', '.join(f'{r:.2f}' for r in cpu)};"
        f" median {statistics.median(cpu):.2f}; store without Kafka / bare median"
        f" {statistics.median(core_cpu):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
