"""``python -m tests.session [PYTEST ARGS]``: one broker for a whole (parallel) test run.

``make test`` runs pytest through this wrapper so that the broker is started once for
all pytest-xdist workers and stopped afterwards, also when tests fail or the run is
interrupted. The broker comes from :func:`tests.kafka_broker.kafka_bootstrap_servers`
(``KAFKA_BOOTSTRAP_SERVERS`` when set, else testcontainers when Docker answers, else
the project's own local broker); the workers find it in ``KAFKA_BOOTSTRAP_SERVERS``.
Likewise one PostgreSQL server for the store's tests (:mod:`tests.postgres`), found by
the workers in ``KITESTREAM_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from services.common.logs import configure_logging
from tests.kafka_broker import kafka_bootstrap_servers
from tests.postgres import POSTGRES_URL_ENV, postgres_server

log = logging.getLogger("tests.session")


def main(argv: list[str]) -> int:
    configure_logging("text")
    with kafka_bootstrap_servers() as bootstrap, postgres_server() as postgres:
        log.info("tests use Kafka at %s and PostgreSQL at %s", bootstrap, postgres)
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, POSTGRES_URL_ENV: postgres}
        try:
            return subprocess.call([sys.executable, "-m", "pytest", *argv], env=env)
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
