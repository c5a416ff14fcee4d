"""Java libraries fetched from Maven Central through a pom (the broker's, `broker/pom.xml`; the
Avro tools' for the interoperability tests). Maven caches them in ~/.m2, and the copied set in
the pom's `lib/` is reused until the pom changes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from catalog_stream.errors import CatalogStreamError

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "broker" / "pom.xml"
DEFAULT_LIB_DIR = REPO_ROOT / "broker" / "lib"


class FetchError(CatalogStreamError):
    """A pom's libraries could not be fetched (no Maven, no registry). Not retryable: a set-up
    fault to fix first."""


def ensure_jars(lib_dir: Path = DEFAULT_LIB_DIR, pom: Path = POM) -> Path:
    """Fetch a pom's jars with Maven unless `lib_dir` already holds this pom's set."""
    lib_dir = lib_dir.resolve()  # Maven resolves a relative directory against the pom's folder
    stamp = lib_dir / ".pom-fingerprint"
    fingerprint = hashlib.sha256(pom.read_bytes()).hexdigest()  # a new pom fetches again
    if stamp.exists() and stamp.read_text() == fingerprint:
        return lib_dir
    if shutil.which("mvn") is None:
        raise FetchError(
            "Maven (mvn) is needed to fetch Java libraries; install it (apt-get install maven)"
        )
    shutil.rmtree(lib_dir, ignore_errors=True)
    command = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={lib_dir}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise FetchError(f"fetching {pom} with Maven failed:\n{result.stdout}\n{result.stderr}")
    stamp.write_text(fingerprint)
    return lib_dir


def kafka_version(lib_dir: Path = DEFAULT_LIB_DIR) -> str:
    for jar in lib_dir.glob("kafka_2.13-*.jar"):
        return jar.stem.removeprefix("kafka_2.13-")
    return "unknown"
