"""A throwaway PostgreSQL server for the tests, from Debian's server binaries.

Started on a free loopback port with trust authentication, in a temporary directory; as root it
runs as the `postgres` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from catalog_stream.ports import free_port
from projector.postgres_store import connect

# Ends every client connection but the asking one, server-side: connections the database dropped.
DROP_CLIENTS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


def execute(url: str, statement: str) -> None:
    """Run `statement` on the database at `url` in a session of its own, committed at once
    (autocommit), as an operator's psql runs it."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement.encode())


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: run scripts/ensure-postgres (make test does)")
    return path


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class LocalPostgres:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def postmaster(self) -> int:
        """The postmaster's process id: as root `process` is runuser, its parent."""
        return int((self.directory / "data" / "postmaster.pid").read_text().split()[0])

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        data = self.directory / "data"
        if not (data / "PG_VERSION").exists():  # else a restart, on the same data
            subprocess.run(
                _as_server_user(
                    [_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
                ),
                check=True,
                capture_output=True,
            )
        self.process = subprocess.Popen(
            _as_server_user([
                _bin("postgres"), "-D", str(data), "-p", str(self.port), "-h", "127.0.0.1",
                "-k", str(self.directory), "-c", "fsync=off", "-c", "max_connections=200",
            ]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.2)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None


@contextmanager
def own_postgres() -> Iterator[LocalPostgres]:
    """A started server of the caller's own, for a test that stops, crashes or freezes it (the
    session's `postgres` fixture is shared by every other test); stopped at the end and its
    directory removed (its data, left behind, filled the disk)."""
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="catalog-stream-pg-")), free_port())
    try:
        server.start()  # in the try: a start that times out leaves a process to stop
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def catalog_service(server: LocalPostgres, keepalives_idle: str) -> str:
    """A libpq service file's text: the service `catalog`, the `postgres` database of `server`,
    with `keepalives_idle` (a setting the store's connections report back: keepalives_idle)."""
    return (
        f"[catalog]\nhost=127.0.0.1\nport={server.port}\ndbname=postgres\nuser=postgres\n"
        f"keepalives_idle={keepalives_idle}\n"
    )


def keepalives_idle(url: str) -> str:
    """keepalives_idle of a connection the store opens to `url` (postgres_store.connect: with
    what a service file it names says), as libpq reports it."""
    with connect(url) as connection:
        found = {o.keyword.decode(): (o.val or b"").decode() for o in connection.pgconn.info}
    return found["keepalives_idle"]
