"""Which connection parameters a libpq service file (pg_service.conf) gives the store's URL, so
that the store's own defaults (postgres_store.connect: the connect timeout, the keepalives) do
not override them: libpq lets an explicit parameter win over the service file's, so a default
passed for a parameter the operator's service file sets replaced the operator's value.

libpq's rules: the service is the URL's `service` (else PGSERVICE); it is looked up in the
user's file (the URL's `servicefile`, else PGSERVICEFILE, else ~/.pg_service.conf), and only if
not found there in the system's (PGSYSCONFDIR/pg_service.conf; libpq's compiled-in directory is
not known here). A file is `[name]` sections of `key=value` lines, `#` starting a comment line;
libpq ends a line at a newline only and strips it of C's white space, takes a section header's
name up to its `]` (`[name] # a comment` is that section) and a key's first value."""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from pathlib import Path

_SPACE = " \t\n\r\v\f"  # C's isspace: not str.strip's (Unicode's), nor str.splitlines' breaks


def section_parameters(text: str, service: str) -> dict[str, str] | None:
    """The parameters (name: value) the section `service` of a service file's `text` sets;
    None if the file has no such section (libpq then looks in the next file)."""
    found: dict[str, str] | None = None
    header = f"[{service}]"
    for raw in text.split("\n"):
        line = raw.strip(_SPACE)
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if found is not None:
                break  # (libpq reads the first section of that name only)
            if line.startswith(header):
                found = {}
            continue
        if found is not None and "=" in line:
            name, value = line.split("=", 1)
            found.setdefault(name.strip(_SPACE), value)
    return found


def service_parameters(given: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The parameters the service file gives a connection whose explicit parameters are `given`
    (the URL's), in the environment `environ`; empty if it names no service, or no file defines
    it (libpq then refuses the connection itself)."""
    service = given.get("service") or environ.get("PGSERVICE")
    if not service:
        return {}
    user = given.get("servicefile") or environ.get("PGSERVICEFILE")
    home = _home(environ)
    files = [Path(user)] if user else [Path(home) / ".pg_service.conf"] if home else []
    if environ.get("PGSYSCONFDIR"):
        files.append(Path(environ["PGSYSCONFDIR"]) / "pg_service.conf")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:  # no such file (libpq skips it too), or unreadable: libpq says so
            continue
        if (found := section_parameters(text, service)) is not None:
            return found
    return {}


def _home(environ: Mapping[str, str]) -> str | None:
    """The home directory as libpq finds it: HOME, else the user's entry in the password
    database; None if neither (a container's user id without an entry): libpq then skips the
    user's file, where Path.home() raised RuntimeError from every connect."""
    if home := environ.get("HOME"):
        return home
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return None
