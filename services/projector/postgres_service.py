"""Which connection parameters a libpq service file (pg_service.conf) gives the store's URL, so
that the store's own defaults (postgres_store.connect: the connect timeout, the keepalives) do
not override them: libpq lets an explicit parameter win over the service file's, so a default
passed for a parameter the operator's service file sets replaced the operator's value.

libpq's rules: the service is the URL's `service` (else PGSERVICE); it is looked up in the
user's file (the URL's `servicefile`, else PGSERVICEFILE, else ~/.pg_service.conf), and only if
not found there in the system's (PGSYSCONFDIR/pg_service.conf; libpq's compiled-in directory is
not known here). A file is `[name]` sections of `key=value` lines, `#` starting a comment line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def section_parameters(text: str, service: str) -> set[str] | None:
    """The parameter names the section `service` of a service file's `text` sets; None if the
    file has no such section (libpq then looks in the next file)."""
    found: set[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if found is not None:
                break  # (libpq reads the first section of that name only)
            if line.endswith("]") and line[1:-1] == service:
                found = set()
            continue
        if found is not None and "=" in line:
            found.add(line.split("=", 1)[0].strip())
    return found


def service_parameters(given: Mapping[str, str], environ: Mapping[str, str]) -> set[str]:
    """The parameter names the service file gives a connection whose explicit parameters are
    `given` (the URL's), in the environment `environ`; empty if it names no service, or no file
    defines it (libpq then refuses the connection itself)."""
    service = given.get("service") or environ.get("PGSERVICE")
    if not service:
        return set()
    user = given.get("servicefile") or environ.get("PGSERVICEFILE")
    files = [Path(user) if user else Path.home() / ".pg_service.conf"]
    if environ.get("PGSYSCONFDIR"):
        files.append(Path(environ["PGSYSCONFDIR"]) / "pg_service.conf")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:  # no such file (libpq skips it too), or unreadable: libpq says so
            continue
        if (found := section_parameters(text, service)) is not None:
            return found
    return set()
