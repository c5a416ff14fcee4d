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
import threading
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
        if (found := _read_section(path, service)) is not None:
            return found
    return {}


# What each file held when read: its stamp then, its text, and its sections as parsed.
_READ: dict[Path, tuple[tuple[int, ...], str, dict[str, dict[str, str] | None]]] = {}
_READ_LOCK = threading.Lock()


def _read_section(path: Path, service: str) -> dict[str, str] | None:
    """The section `service` of the file at `path` (None: no such file, or no such section).
    Every connect asks (postgres_store.connect): the file is read once per (path, stat stamp)
    and each section parsed once, at one stat a connect; libpq reads it at each connect, and an
    edit counts from the next connect here too. The stamp holds the inode and ctime beside the
    mtime and size: a file replaced by a rename keeping both (rsync -a, cp -p) was otherwise
    cached for ever, its old values passed over the new file's."""
    try:
        seen = path.stat()
        stamp = (seen.st_mtime_ns, seen.st_size, seen.st_ino, seen.st_dev, seen.st_ctime_ns)
        with _READ_LOCK:
            known = _READ.get(path)
        if known is None or known[0] != stamp:
            # (an edit between the stat and the read: kept under the older stamp, so it is
            # read again at the next connect)
            known = (stamp, path.read_text(encoding="utf-8", errors="replace"), {})
            with _READ_LOCK:
                _READ[path] = known
    except OSError:  # no such file (libpq skips it too), or unreadable: libpq says so
        return None
    sections = known[2]
    if service not in sections:  # (two threads may both parse it: the same answer)
        sections[service] = section_parameters(known[1], service)
    found = sections[service]
    return None if found is None else dict(found)


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
