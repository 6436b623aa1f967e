"""Start, stop and inspect a local Apache Kafka broker (alone, or one node of a cluster).

The jars come from Maven Central through ``mvn`` (the pom beside this module) and are
cached under ``.kitestream/kafka/jars``; a second start reuses them. Storage is
formatted once (KRaft) and kept between starts; ``down --wipe`` removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.localkafka.config import (
    BrokerPaths,
    Node,
    log4j2_properties,
    new_cluster_id,
    parse_java_major,
    server_properties,
)

__all__ = ["BrokerError", "BrokerStatus", "LocalBroker", "broker_answers", "kafka_for_session"]

log = logging.getLogger(__name__)

MIN_JAVA = 17


class BrokerError(Exception):
    """The local broker could not be set up, started or stopped; the message says why."""


@dataclass(frozen=True)
class BrokerStatus:
    pid: int | None
    answers: bool
    bootstrap: str

    @property
    def running(self) -> bool:
        return self.pid is not None and self.answers

    def describe(self) -> str:
        if self.running:
            return f"running: pid {self.pid}, answering at {self.bootstrap}"
        if self.pid is not None:
            return f"starting or unhealthy: pid {self.pid}, not answering at {self.bootstrap}"
        if self.answers:
            return f"not ours: another Kafka answers at {self.bootstrap}"
        return f"stopped ({self.bootstrap} does not answer)"


async def broker_answers(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """Whether a broker at ``bootstrap`` answers a metadata request within ``timeout_s``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2_000)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        with contextlib.suppress(KafkaError, OSError, TimeoutError):
            await admin.close()
    return True


DEFAULT_HEAP = "-Xms256m -Xmx1g"


class LocalBroker:
    """One broker bound to ``host:port`` (controller on ``port + 1``), files under ``paths``.

    Alone by default; a :class:`~services.localkafka.cluster.LocalCluster` makes one per
    node, passing the node's id, the quorum's ``voters``, their shared ``cluster_id`` and
    a smaller ``heap``. ``KAFKA_HEAP_OPTS`` overrides the heap of every broker.
    """

    def __init__(
        self,
        paths: BrokerPaths | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        node_id: int = 1,
        voters: list[Node] | None = None,
        cluster_id: str | None = None,
        heap: str = DEFAULT_HEAP,
    ) -> None:
        self.paths = paths or BrokerPaths.from_env()
        self.host = host
        self.port = port or int(os.environ.get("KITESTREAM_LOCAL_KAFKA_PORT", "9092"))
        self.node_id = node_id
        self.voters = voters
        self.cluster_id = cluster_id
        self.heap = heap
        self._process: subprocess.Popen[bytes] | None = None  # when started by this object

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    # -- set-up ----------------------------------------------------------------------

    def check_tools(self) -> None:
        """Fail with a clear message when Java is missing or older than 17, or Maven is."""
        java = shutil.which("java")
        if java is None:
            raise BrokerError(f"java not found: install a JDK {MIN_JAVA} or newer")
        out = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [java, "-version"], capture_output=True, text=True, check=False
        )
        major = parse_java_major(out.stderr + out.stdout)
        if major is None or major < MIN_JAVA:
            raise BrokerError(
                f"Kafka 4 needs Java {MIN_JAVA} or newer; {java} is "
                f"{major if major is not None else 'of unknown version'}"
            )
        if shutil.which("mvn") is None and not self._jars_ready():
            raise BrokerError(
                "mvn not found: install Maven to fetch the Kafka jars from Maven Central"
            )

    def resolve_jars(self) -> bool:
        """Fetch Kafka and its runtime dependencies unless cached; True when fetched now."""
        if self._jars_ready():
            return False
        pom = resources.files("services.localkafka").joinpath("pom.xml")
        with resources.as_file(pom) as pom_path:
            tmp = self.paths.jars.with_name("jars.partial")
            shutil.rmtree(tmp, ignore_errors=True)
            log.info("resolving Apache Kafka jars from Maven Central (first run only)")
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-f",
                    str(pom_path),
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={tmp}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise BrokerError(f"mvn could not resolve the Kafka jars:\n{done.stdout[-4000:]}")
            (tmp / ".resolved-from").write_text(_pom_digest())
            shutil.rmtree(self.paths.jars, ignore_errors=True)
            tmp.rename(self.paths.jars)
        return True

    def _jars_ready(self) -> bool:
        stamp = self.paths.jars_stamp
        return stamp.is_file() and stamp.read_text() == _pom_digest()

    def write_config(self) -> None:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.paths.server_properties.write_text(
            server_properties(
                self.paths.data,
                host=self.host,
                port=self.port,
                controller_port=self.port + 1,
                node_id=self.node_id,
                voters=self.voters,
            )
        )
        self.paths.log4j2_properties.write_text(log4j2_properties(self.paths.server_log))

    def format_storage(self) -> bool:
        """Format KRaft storage unless already formatted; True when formatted now."""
        if (self.paths.data / "meta.properties").is_file():
            return False
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                self.cluster_id or new_cluster_id(),
                "-c",
                str(self.paths.server_properties),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed:\n{done.stdout}{done.stderr}")
        return True

    def _java(self) -> list[str]:
        heap = os.environ.get("KAFKA_HEAP_OPTS", self.heap).split()
        return [
            "java",
            *heap,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.paths.log4j2_properties}",
            "-cp",
            f"{self.paths.jars}/*",
        ]

    # -- life cycle ------------------------------------------------------------------

    def pid(self) -> int | None:
        """The broker's pid when our broker process is alive, else ``None``."""
        try:
            pid = int(self.paths.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if b"kafka.Kafka" not in cmdline or bytes(self.paths.server_properties) not in cmdline:
            return None  # the pid was reused by another process
        return pid

    def status(self) -> BrokerStatus:
        return BrokerStatus(self.pid(), asyncio.run(broker_answers(self.bootstrap)), self.bootstrap)

    def up(self, *, timeout_s: float = 90.0) -> bool:
        """Start the broker unless it runs already; True when this call started it."""
        if self.pid() is not None:
            self._wait_ready(timeout_s)
            return False
        proc = self.launch()
        try:
            self._wait_ready(timeout_s, proc)
        except BrokerError:
            self.down()
            raise
        return True

    def launch(self) -> subprocess.Popen[bytes]:
        """Set up and start the broker process without waiting for it to answer (the
        nodes of a cluster answer only once a quorum of them runs)."""
        if asyncio.run(broker_answers(self.bootstrap, timeout_s=1.0)):
            raise BrokerError(
                f"another Kafka already answers at {self.bootstrap}; set "
                f"KAFKA_BOOTSTRAP_SERVERS={self.bootstrap} to use it, or "
                "KITESTREAM_LOCAL_KAFKA_PORT to run ours on another port"
            )
        self.check_tools()
        self.resolve_jars()
        self.write_config()
        self.format_storage()
        with self.paths.stdout_log.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [*self._java(), "kafka.Kafka", str(self.paths.server_properties)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal is ours to handle
            )
        self._process = proc
        self.paths.pid_file.write_text(f"{proc.pid}\n")
        return proc

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Wait until the broker answers; fail early when the process started here exits."""
        self._wait_ready(timeout_s, self._process)

    def terminate(self) -> None:
        """Send SIGTERM and return at once (``down`` also waits and reaps)."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)

    def kill(self) -> bool:
        """SIGKILL the broker, as a crash would (fault tests); True when one was running."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        if self._process is not None:
            self._process.wait()
            self._process = None
        self.paths.pid_file.unlink(missing_ok=True)
        return pid is not None

    def _wait_ready(self, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise BrokerError(
                    f"the broker exited with code {proc.returncode}; last log lines:\n"
                    + self.log_tail()
                )
            if asyncio.run(broker_answers(self.bootstrap, timeout_s=2.0)):
                return
            time.sleep(0.3)
        raise BrokerError(
            f"the broker did not answer within {timeout_s:.0f}s; last log lines:\n"
            + self.log_tail()
        )

    def down(self, *, timeout_s: float = 30.0, wipe: bool = False) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL); True when one was running."""
        pid = self.pid()
        if pid is not None:
            _terminate(pid, timeout_s)
        if self._process is not None:
            self._process.wait()  # reap our child so that no zombie or warning is left
            self._process = None
        self.paths.pid_file.unlink(missing_ok=True)
        if wipe:
            shutil.rmtree(self.paths.data, ignore_errors=True)
        return pid is not None

    def log_tail(self, lines: int = 20) -> str:
        chunks = []
        for path in (self.paths.stdout_log, self.paths.server_log):
            if path.is_file():
                chunks.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(chunks[-lines:])


@contextlib.contextmanager
def kafka_for_session() -> Iterator[str]:
    """A bootstrap address for a session (``make run``, a test run, a benchmark).

    ``KAFKA_BOOTSTRAP_SERVERS`` when set; otherwise the local broker, started when it
    is not running and then stopped again at the end (only when started here).
    """
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    broker = LocalBroker()
    started = broker.up()
    try:
        yield broker.bootstrap
    finally:
        if started:
            broker.down()


def _terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM the broker's process group, wait, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    log.warning("broker pid %d ignored SIGTERM for %.0fs; killing it", pid, timeout_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with contextlib.suppress(ChildProcessError):
            waited, _ = os.waitpid(pid, os.WNOHANG)
            if waited == pid:
                return False
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _pom_digest() -> str:
    pom = resources.files("services.localkafka").joinpath("pom.xml").read_bytes()
    return hashlib.sha256(pom).hexdigest()
