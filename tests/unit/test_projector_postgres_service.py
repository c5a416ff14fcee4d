"""postgres_service: which parameters a libpq service file's section sets, and which file's
section counts (libpq's order: the user's file, then the system's)."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from projector.postgres_service import section_parameters, service_parameters

FILE = """
# comment = not a parameter
[a]
host=db
 keepalives_idle = 20
[b]
tcp_user_timeout=5
  # keepalives=0

[a]
connect_timeout=9
"""


def test_a_section_s_parameters() -> None:
    assert section_parameters(FILE, "a") == {"host": "db", "keepalives_idle": " 20"}  # the first
    assert section_parameters(FILE, "b") == {"tcp_user_timeout": "5"}
    assert section_parameters("[c]\n", "c") == {}
    assert section_parameters(FILE, "c") is None


def test_which_file_and_service(tmp_path: Path) -> None:
    user, system = tmp_path / "user.conf", tmp_path / "pg_service.conf"
    user.write_text("[a]\nkeepalives=0\n")
    system.write_text("[a]\nkeepalives_idle=1\n[b]\nkeepalives_count=2\n")
    env = {"PGSERVICEFILE": str(user), "PGSYSCONFDIR": str(tmp_path)}
    assert service_parameters({"service": "a"}, env) == {"keepalives": "0"}  # the user's first
    assert service_parameters({"service": "b"}, env) == {
        "keepalives_count": "2"
    }  # then the system's
    assert service_parameters({}, {**env, "PGSERVICE": "b"}) == {"keepalives_count": "2"}
    assert service_parameters({"service": "a", "servicefile": str(system)}, env) == {
        "keepalives_idle": "1"
    }
    assert service_parameters({"service": "z"}, env) == {}
    assert service_parameters({}, env) == {}
    assert service_parameters({"service": "a"}, {"PGSERVICEFILE": str(tmp_path / "none")}) == {}


def test_a_header_is_its_name_up_to_the_bracket_and_lines_end_at_newlines_only() -> None:
    """libpq reads `[a] # a comment` as section a, and ends a line at a newline only (not at
    str.splitlines' vertical tab, form feed, \\x1c or U+2028), stripping C's white space.
    Before, section a was not found (so the store's defaults replaced the operator's values),
    and a vertical tab made a parameter of the header's rest."""
    assert section_parameters("[a] # the store\nkeepalives_idle=61\n", "a") == {
        "keepalives_idle": "61"
    }
    assert section_parameters("[ab]\nport=1\n", "a") is None
    assert section_parameters("[a]\vkeepalives_idle=61\nport=1\r\n", "a") == {"port": "1"}
    assert section_parameters("[a]\nhost=x\u2028[b]\nport=1\n", "a") == {
        "host": "x\u2028[b]",
        "port": "1",
    }


def test_no_home_directory_skips_the_user_s_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user id with no entry in the password database and no HOME (a container's arbitrary
    id): libpq skips ~/.pg_service.conf and reads the system's file. Before, Path.home() raised
    RuntimeError from every connect: the projector did not start."""

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    (tmp_path / "pg_service.conf").write_text("[a]\nkeepalives_idle=1\n")
    found = service_parameters({"service": "a"}, {"PGSYSCONFDIR": str(tmp_path)})
    assert found == {"keepalives_idle": "1"}
