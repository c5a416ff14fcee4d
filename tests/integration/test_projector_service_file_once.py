"""On a real PostgreSQL: the libpq service file a store URL names is read once per stat stamp
(path, mtime, size, inode, ctime), not at every connect (every reader thread's, every
heartbeat's, every batch's after an outage), and an edit still counts from the next connect, as
libpq reads it. Shown by what the connection's parameters are: an edit that keeps the size and
sets the mtime back is read too (its ctime moved); one that moves the mtime, or the size, is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.postgres import LocalPostgres, catalog_service, keepalives_idle


def _write(path: Path, postgres: LocalPostgres, idle: str) -> None:
    path.write_text(catalog_service(postgres, idle))


def test_the_service_file_is_read_once_per_mtime_and_size(
    postgres: LocalPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = tmp_path / "services.conf"
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    url = "postgresql://?service=catalog"
    _write(services, postgres, "61")
    assert keepalives_idle(url) == "61"
    before = services.stat()
    _write(services, postgres, "62")  # the same size...
    os.utime(services, ns=(before.st_atime_ns, before.st_mtime_ns))  # ...and mtime: its ctime
    assert keepalives_idle(url) == "62"  # moved (no call sets it back): read again, as libpq does
    assert keepalives_idle(url) == "62"
    os.utime(services, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert keepalives_idle(url) == "62"  # the mtime moved: read again
    _write(services, postgres, "630")  # the size moved (the mtime may not, within a tick)
    os.utime(services, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert keepalives_idle(url) == "630"
    services.unlink()  # gone: as libpq, no file, no parameters from it (the defaults)
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "none.conf"))
    assert keepalives_idle(f"postgresql://127.0.0.1:{postgres.port}/postgres?user=postgres") == "10"
