"""A real Apache Kafka broker (KRaft, broker+controller in one process) on loopback.

The jars come from Maven Central through `broker/pom.xml` (java_libs.ensure_jars). Storage is
formatted once per data directory, so a second start of the same directory keeps its topics and
records.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from catalog_contract.topics import min_insync_for
from catalog_stream.errors import CatalogStreamError
from catalog_stream.java_libs import DEFAULT_LIB_DIR, ensure_jars
from catalog_stream.lifetime import die_with_parent
from catalog_stream.ports import port_open

STARTED_LINE = "Kafka Server started"


class BrokerError(CatalogStreamError):
    """The local broker could not be formatted, started or stopped.

    Not retryable: these are set-up faults (no Java, no Maven, port taken) to fix first.
    """


LOG4J2 = """\
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = INFO
"""


def new_cluster_id(random_uuid: Callable[[], uuid.UUID] = uuid.uuid4) -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, as Kafka's own Uuid makes them.

    Like Kafka's ``Uuid.randomUuid`` it never starts with "-": the storage tool's argument
    parser would read such an id as an option and refuse to format (1 start in 64).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(random_uuid().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class LocalBroker:
    """One KRaft node (broker and controller in one JVM). Alone by default; `LocalCluster`
    gives several of them the same `voters` and `cluster_id`.

    `listeners` adds client listeners to the PLAINTEXT one (name -> (security protocol, port)),
    `properties` adds or overrides server properties, `format_args` goes to the storage tool
    (e.g. `--add-scram` to create SCRAM credentials before the first start).
    """

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    lib_dir: Path = DEFAULT_LIB_DIR
    heap: str = "1g"
    node_id: int = 1
    voters: str = ""  # "1@127.0.0.1:9093,2@..."; empty: this node alone
    cluster_id: str = ""  # empty: a new one at the first format
    listeners: dict[str, tuple[str, int]] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    format_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def _properties(self) -> Path:
        path = self.data_dir / "server.properties"
        listeners = {"PLAINTEXT": ("PLAINTEXT", self.port), **self.listeners}
        replicas = str(min(3, self.voters.count("@") or 1))
        min_isr = str(min_insync_for(int(replicas)))
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters
            or f"{self.node_id}@127.0.0.1:{self.controller_port}",
            "listeners": ",".join(
                [f"{name}://127.0.0.1:{port}" for name, (_, port) in listeners.items()]
                + [f"CONTROLLER://127.0.0.1:{self.controller_port}"]
            ),
            "advertised.listeners": ",".join(
                f"{name}://127.0.0.1:{port}" for name, (_, port) in listeners.items()
            ),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(
                [f"{name}:{protocol}" for name, (protocol, _) in listeners.items()]
                + ["CONTROLLER:PLAINTEXT"]
            ),
            "log.dirs": str(self.data_dir / "data"),
            "num.partitions": "1",
            # Internal topics cannot have more replicas than there are nodes.
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            # Topics exist only through `catalog-stream topics ensure`, with their settings.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            # Look for compactable logs every 5 s (default 15 s): a small broker, little to clean.
            "log.cleaner.backoff.ms": "5000",
            **self.properties,
        }
        path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        return path

    def _java(self, main: str, *args: str) -> list[str]:
        java = os.environ.get("JAVA_HOME")
        binary = str(Path(java) / "bin" / "java") if java else "java"
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(LOG4J2.format(log=self.log_file))
        return [
            binary,
            f"-Xmx{self.heap}",
            f"-Xms{min(256, _megabytes(self.heap))}m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{self.lib_dir}/*",
            main,
            *args,
        ]

    def format_storage(self) -> None:
        if (self.data_dir / "data" / "meta.properties").exists():
            return
        command = self._java(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            self.cluster_id or new_cluster_id(),
            "--config",
            str(self._properties()),
            *self.format_args,
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}")

    def launch(self) -> int:
        """Start the JVM without waiting; returns where in its log to look for "started"."""
        ensure_jars(self.lib_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for port in (self.port, self.controller_port, *(p for _, p in self.listeners.values())):
            if port_open(port):
                raise BrokerError(f"port {port} is already in use; is another broker running?")
        properties = self._properties()
        self.format_storage()
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with (self.data_dir / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(
                self._java("kafka.Kafka", str(properties)),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the JVM directly
                preexec_fn=die_with_parent(),  # ... and yet it stops when we die, however we die
            )
        return offset

    def wait_started(self, offset: int, deadline: float) -> None:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"Kafka exited with {self.process.returncode}; see {self.log_file}"
                )
            if self.started_since(offset) and port_open(self.port):
                return
            time.sleep(0.2)
        self.kill()
        raise BrokerError(f"Kafka did not start in time; see {self.log_file}")

    def start(self, timeout_s: float = 90) -> None:
        offset = self.launch()
        self.wait_started(offset, time.monotonic() + timeout_s)

    def started_since(self, offset: int) -> bool:
        if not self.log_file.exists():
            return False
        with self.log_file.open("rb") as log:
            log.seek(offset)
            return STARTED_LINE.encode() in log.read()

    def stop(self, timeout_s: float = 60) -> None:
        """A controlled shutdown (SIGTERM), so the next start needs no log recovery."""
        self.send_stop()
        self.wait_stopped(timeout_s)

    def send_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout_s: float = 60) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def _megabytes(heap: str) -> int:
    """-Xmx text ("1g", "512m", "1048576") in MiB, so -Xms never exceeds it."""
    unit = heap[-1].lower()
    if unit.isdigit():
        return int(heap) // (1024 * 1024)
    number = int(heap[:-1])
    return {"g": number * 1024, "m": number, "k": number // 1024}[unit]
