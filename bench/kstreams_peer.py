"""The Kafka Streams peer of the projector benchmark: build it (Maven, once) and time its catch-up.

`bench/kstreams/` is a small Java application (see `CatchUp.java`): a KTable of the product topic
in a RocksDB store, values decoded with Apache Avro's single-object decoder. It captures the
topic's end offsets at start, stops once every record before them is in its store and prints
one `PEER {json}` line. The build is cached per machine, like Maven's ~/.m2, under
~/.cache/catalog-stream/kstreams-peer/<fingerprint of the pom and sources>/: a fresh clone (CI)
reuses it, and Maven runs again only for another pom or source, offline first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT
from catalog_contract import schemas

PROJECT = ROOT / "bench" / "kstreams"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "catalog-stream"
JAR_NAME = "kstreams-peer.jar"  # beside it, lib/ holds the dependencies
MAIN = "catalogstream.peer.CatchUp"


class PeerError(RuntimeError):
    """The peer could not be built, or did not catch up as it must."""


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [PROJECT / "pom.xml", *sorted((PROJECT / "src").rglob("*.java"))]:
        digest.update(str(path.relative_to(PROJECT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_built() -> Path:
    """The peer's jar (its dependencies in lib/ beside it), built by Maven unless cached."""
    built = CACHE / "kstreams-peer" / _fingerprint()[:16]
    if (built / JAR_NAME).exists():
        return built / JAR_NAME
    if shutil.which("mvn") is None:
        raise PeerError(
            "Maven (mvn) builds the Kafka Streams peer; install it (apt-get install maven)"
        )
    built.parent.mkdir(parents=True, exist_ok=True)
    # Built aside, then renamed into place: a cached directory is always a whole build, even
    # when two runs build at once or one is interrupted.
    scratch = Path(tempfile.mkdtemp(prefix="build-", dir=built.parent))
    command = ["mvn", "-q", "-B", "-f", str(PROJECT / "pom.xml")]
    command += [f"-Dpeer.build.directory={scratch}", "package"]
    try:
        # Offline first: after the first fetch ~/.m2 has it all, and no repository is asked.
        result = subprocess.run([*command[:1], "-o", *command[1:]], capture_output=True, text=True)
        if result.returncode != 0:
            result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise PeerError(f"building {PROJECT} failed:\n{result.stdout}\n{result.stderr}")
        try:
            scratch.rename(built)
        except OSError:  # another run built it meanwhile
            if not (built / JAR_NAME).exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return built / JAR_NAME


def catch_up(bootstrap: str, topic: str, total: int, keys: int, log: Path) -> dict[str, float]:
    """Start the peer on an empty state directory; time it until its store holds every record.

    The time runs from the process start (JVM start-up included, as the projector's figure
    includes Python's) to the moment the last record was in the store, plus the close that
    flushes the record cache into RocksDB and commits: the projector's figure also counts only
    records committed to its store. The key count read back in between is not timed.
    """
    started, said = report(bootstrap, topic, log)
    return figures(said, started, total, keys)


def report(bootstrap: str, topic: str, log: Path) -> tuple[float, dict[str, Any]]:
    """Run the peer on an empty state directory until it caught up: when its process started
    (epoch seconds) and its `PEER` report."""
    jar = ensure_built()
    state = Path(tempfile.mkdtemp(prefix="bench-kstreams-"))
    java = os.environ.get("JAVA_HOME")
    command = [
        str(Path(java) / "bin" / "java") if java else "java",
        "-Xmx1g",
        # Kafka's INFO log with times, to the log file: where start-up and close spend theirs.
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
        "-cp",
        f"{jar}:{jar.parent / 'lib'}/*",
        MAIN,
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--state-dir",
        str(state),
        *(str(version.path) for version in schemas.all_versions()),
    ]
    try:
        with log.open("ab") as errors:
            started = time.time()
            result = subprocess.run(
                command, stdout=subprocess.PIPE, stderr=errors, timeout=7200, check=False
            )
    finally:
        shutil.rmtree(state, ignore_errors=True)
    line = next((x for x in result.stdout.decode().splitlines() if x.startswith("PEER ")), None)
    if result.returncode != 0 or line is None:
        raise PeerError(f"the Kafka Streams peer failed ({result.returncode}); see {log}")
    return started, dict(json.loads(line.removeprefix("PEER ")))


def figures(report: dict[str, Any], started: float, total: int, keys: int) -> dict[str, float]:
    """The peer's figures from its report; refused unless it read every record into every key.

    `started` is when the process was started (epoch seconds, the clock the report's times use).
    """
    if report["records"] != total or report["expected_records"] != total or report["keys"] != keys:
        raise PeerError(
            f"the Kafka Streams peer read {report['records']} of {total} records "
            f"(end offsets said {report['expected_records']}) into {report['keys']} keys, "
            f"not {keys}"
        )
    seconds = report["caught_up_ms"] / 1000 - started + report["close_s"]
    return {
        "seconds": seconds,
        "rate": total / seconds,
        # Process start to the first record in the store: JVM, clients, joining the group.
        "startup_s": report["first_record_ms"] / 1000 - started,
        "close_s": report["close_s"],
        "peak_rss_mb": report["peak_rss_mb"],
    }
