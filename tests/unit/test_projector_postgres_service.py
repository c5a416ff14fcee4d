"""postgres_service: which parameters a libpq service file's section sets, and which file's
section counts (libpq's order: the user's file, then the system's)."""

from __future__ import annotations

from pathlib import Path

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
    assert section_parameters(FILE, "a") == {"host", "keepalives_idle"}  # its first section
    assert section_parameters(FILE, "b") == {"tcp_user_timeout"}
    assert section_parameters("[c]\n", "c") == set()
    assert section_parameters(FILE, "c") is None


def test_which_file_and_service(tmp_path: Path) -> None:
    user, system = tmp_path / "user.conf", tmp_path / "pg_service.conf"
    user.write_text("[a]\nkeepalives=0\n")
    system.write_text("[a]\nkeepalives_idle=1\n[b]\nkeepalives_count=2\n")
    env = {"PGSERVICEFILE": str(user), "PGSYSCONFDIR": str(tmp_path)}
    assert service_parameters({"service": "a"}, env) == {"keepalives"}  # the user's first
    assert service_parameters({"service": "b"}, env) == {"keepalives_count"}  # then the system's
    assert service_parameters({}, {**env, "PGSERVICE": "b"}) == {"keepalives_count"}
    assert service_parameters({"service": "a", "servicefile": str(system)}, env) == {
        "keepalives_idle"
    }
    assert service_parameters({"service": "z"}, env) == set()
    assert service_parameters({}, env) == set()
    assert service_parameters({"service": "a"}, {"PGSERVICEFILE": str(tmp_path / "none")}) == set()
