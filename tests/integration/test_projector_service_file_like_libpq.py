"""With the real libpq (no server needed): the store honours a libpq service file as libpq reads
it. The service file's connect_timeout bounds a connect to a database that never answers (here a
socket that accepts and stays silent): psycopg times a connect itself from the explicit
parameters only, so a connect_timeout only the service file gave waited psycopg's 130 s (before
the service file was read, the store's own 5 s). And the parameters found in a file are those
libpq finds in it (its effective values, after PQconnectStart)."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillWaiting
from pathlib import Path

import psycopg
import pytest
from psycopg import pq

from projector.postgres_service import service_parameters
from projector.postgres_store import LINK_LIMITS, connect


@pytest.mark.parametrize("given_by", ["service-file", "PGCONNECT_TIMEOUT"])
def test_the_operator_s_connect_timeout_bounds_a_connect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given_by: str
) -> None:
    """libpq's order: the URL, the service file, then PGCONNECT_TIMEOUT; the store's 5 s last.
    Before, PGCONNECT_TIMEOUT was overridden by the store's 5 s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # (the kernel accepts; nothing ever answers libpq's startup)
        port = silent.getsockname()[1]
        services = tmp_path / "services.conf"
        limit = "connect_timeout=2\n" if given_by == "service-file" else ""
        services.write_text(f"[silent]\nhost=127.0.0.1\nport={port}\ndbname=x\n{limit}")
        monkeypatch.setenv("PGSERVICEFILE", str(services))
        if given_by == "PGCONNECT_TIMEOUT":
            monkeypatch.setenv("PGCONNECT_TIMEOUT", "2")
        pool = ThreadPoolExecutor(1)
        started = time.monotonic()
        future = pool.submit(connect, "service=silent")
        try:
            with pytest.raises(psycopg.OperationalError):
                future.result(timeout=15)
        except StillWaiting:
            pytest.fail("the connect still waits after 15 s (the service file says 2 s)")
        finally:
            pool.shutdown(wait=False)
        assert time.monotonic() - started < 4.5  # the operator's 2 s, not the store's 5 s


RELEVANT = {"connect_timeout", *LINK_LIMITS}  # what the store would pass otherwise
FILES = [
    "[catalog] # the store's\nkeepalives_idle=61\n[other]\nkeepalives_count=9\n",
    "[catalog]\vkeepalives_idle=61\nconnect_timeout=3\r\n",
    "  [catalog]\t\n\tkeepalives_count=4 \n[catalog]\nkeepalives_idle=8\n",
    "[catalogue]\nkeepalives_idle=61\n",
]


@pytest.mark.parametrize("text", FILES)
def test_the_parameters_found_are_libpq_s(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = tmp_path / "services.conf"
    services.write_text(text)
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv("HOME", str(tmp_path))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # (refused at once: libpq's values are what is asked)
    conninfo = f"service=catalog host=127.0.0.1 port={port}"
    started = pq.PGconn.connect_start(conninfo.encode())
    try:
        libpq = {
            o.keyword.decode(): o.val.decode()
            for o in started.info
            if o.val is not None and o.keyword.decode() in RELEVANT
        }
    finally:
        started.finish()
    found = service_parameters({"service": "catalog"}, {"PGSERVICEFILE": str(services)})
    assert {name: value for name, value in found.items() if name in RELEVANT} == libpq
