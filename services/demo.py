"""``kitestream demo`` (what ``make run`` runs): the whole system on one machine.

Starts the local broker unless ``KAFKA_BOOTSTRAP_SERVERS`` is set, creates the topics,
then runs every service in :data:`SERVICES` as a child process with the demo
configuration under ``deploy/demo``. Ctrl-C (or SIGTERM) stops the services, then the
broker if this command started it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["DEMO_ENV", "SERVICES", "add_arguments", "run"]

log = logging.getLogger(__name__)

# Child commands (arguments to `kitestream`). Add a line when a service lands.
SERVICES: list[list[str]] = [
    ["receiver"],
    ["dispatcher"],
    ["correlator"],
    ["flakiness"],
    ["store"],
    ["api"],
]

# Demo settings; anything already set in the environment wins.
DEMO_ENV = {
    "KITESTREAM_BUILDKITE_TOKENS": "demo-webhook-token",
    "KITESTREAM_TEST_SUITES": "demo-suite=demo-suite-token",
    "KITESTREAM_PAGERDUTY_SECRETS": "demo-pagerduty-secret",
    "KITESTREAM_API_TOKENS": "demo-api-token",
    "KITESTREAM_CATALOG": "deploy/demo/catalog.yaml",
    "KITESTREAM_ROUTES": "deploy/demo/routes.yaml",
    "KITESTREAM_SPOOL_DIR": ".kitestream/spool",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="receiver address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="receiver port (8080)")


def run(args: argparse.Namespace) -> int:
    from services.common.logs import configure_logging
    from services.localkafka.broker import BrokerError, kafka_for_session

    configure_logging("text")
    try:
        with kafka_for_session() as bootstrap:
            return _serve(args, {**DEMO_ENV, **os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    except BrokerError as exc:
        log.error("could not start the local broker: %s", exc)
        return 1


def _serve(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Create the topics, run the services until a signal (0) or until one of them dies (1)."""
    from services.common.topics import Topics, create_topics, topic_specs

    topics = Topics(env.get("KITESTREAM_TOPIC_PREFIX", ""))
    asyncio.run(create_topics(env["KAFKA_BOOTSTRAP_SERVERS"], topic_specs(topics)))
    children = _start_children(args, env)
    _print_banner(args, env)
    stopped_by_signal = _wait_for_signal(children)
    _stop_children(children)
    return 0 if stopped_by_signal else 1


def _start_children(args: argparse.Namespace, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    children = []
    for argv in SERVICES:
        extra = ["--host", args.host, "--port", str(args.port)] if argv[0] == "receiver" else []
        cmd = [sys.executable, "-m", "services", *argv, *extra]
        log.info("starting %s", " ".join(argv))
        children.append(subprocess.Popen(cmd, env=env))  # noqa: S603 - our own argv
    return children


def _print_banner(args: argparse.Namespace, env: dict[str, str]) -> None:
    base = f"http://{args.host}:{args.port}"
    lines = [
        "",
        f"kitestream is up on Kafka at {env['KAFKA_BOOTSTRAP_SERVERS']}",
        f"  services running: {', '.join(a[0] for a in SERVICES) or 'none yet'}",
        f"  Buildkite webhooks: POST {base}/webhooks/buildkite"
        f"  (X-Buildkite-Token: {env['KITESTREAM_BUILDKITE_TOKENS'].split(',')[0]})",
        f"  test uploads:       POST {base}/v1/uploads  (BUILDKITE_ANALYTICS_API_URL="
        f"{base}/v1, BUILDKITE_ANALYTICS_TOKEN={_demo(env, 'KITESTREAM_TEST_SUITES')})",
        f"  PagerDuty webhooks: POST {base}/webhooks/pagerduty"
        f"  (signing secret: {_demo(env, 'KITESTREAM_PAGERDUTY_SECRETS')})",
        f"  deploys, incidents: POST {base}/api/deploys, {base}/api/incidents"
        f"  (Authorization: Bearer {_demo(env, 'KITESTREAM_API_TOKENS')})",
        f"  metrics:            GET  {base}/metrics",
        "  query API:          GET  http://127.0.0.1:8090/api/v1/tests/flaky  (docs/api.md)",
        "  console:            http://127.0.0.1:8090/  (flaky tests, alerts; docs/console.md)",
        f"  demo configuration: {Path('deploy/demo').absolute()}",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    sys.stdout.write("\n".join(lines))
    sys.stdout.flush()


def _demo(env: dict[str, str], name: str) -> str:
    """The demo credential in ``name`` to show; one set in the environment stays hidden."""
    if env[name] != DEMO_ENV[name]:
        return f"${name}"
    return env[name].split(",")[0].rpartition("=")[2]


def _wait_for_signal(children: list[subprocess.Popen[bytes]]) -> bool:
    """Block until SIGINT/SIGTERM (True) or until a child dies on its own (False)."""
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    while not stopping:
        dead = [c for c in children if c.poll() is not None]
        if dead:
            log.error("a service exited with code %s; stopping the rest", dead[0].returncode)
            return False
        time.sleep(0.2)
    log.info("stopping (signal %d)", stopping[0])
    return True


def _stop_children(children: list[subprocess.Popen[bytes]], timeout_s: float = 20.0) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("pid %d did not stop in time; killing it", child.pid)
            child.kill()
            child.wait()
