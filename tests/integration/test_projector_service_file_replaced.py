"""On a real PostgreSQL: a libpq service file replaced by a rename with a file of the same size
whose mtime was kept (`rsync -a`, `cp -p`, `install -p`, an unpacked archive: each keeps the
source's mtime) is read again at the next connect, as libpq reads it. Before: the file was known
by (mtime, size) alone, so the old text stayed cached for ever, and since the store passes the
service file's values as explicit parameters (postgres_store.connect), the old value overrode
the new file's at every connect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.postgres import LocalPostgres, catalog_service, keepalives_idle


def test_a_service_file_replaced_by_a_rename_keeping_mtime_and_size_is_read_again(
    postgres: LocalPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = tmp_path / "services.conf"
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    url = "postgresql://?service=catalog"
    source = tmp_path / "source.conf"  # a deployment's copy, its mtime from one source file
    source.write_text(catalog_service(postgres, "61"))
    os.utime(source, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    os.replace(source, services)
    assert keepalives_idle(url) == "61"
    source.write_text(catalog_service(postgres, "62"))  # the same size, the same kept mtime
    os.utime(source, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    os.replace(source, services)
    # As libpq reads it (before: "61", the cached text, for ever).
    assert keepalives_idle(url) == "62"
    assert keepalives_idle(url) == "62"
