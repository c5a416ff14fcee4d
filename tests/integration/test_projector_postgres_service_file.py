"""On a real PostgreSQL: a store URL naming a libpq service (pg_service.conf) gets the service
file's keepalive, user-timeout and connect-timeout values, the store's defaults only for what
neither the URL nor the file says, wherever libpq finds the service (the URL's `service`, or
PGSERVICE; the user's file, or the system's). Before, the store's defaults were passed as
explicit parameters, which libpq lets win over the service file's: the operator's values were
silently replaced (a URL's own values already won)."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector.postgres_store import connect
from tests.postgres import LocalPostgres

DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}
OPERATORS = {"keepalives_idle": "61", "keepalives_count": "9", "connect_timeout": "4"}


def _options(url: str) -> dict[str, str]:
    with connect(url) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        return {
            o.keyword.decode(): (o.val or b"").decode()
            for o in connection.pgconn.info
            if o.keyword.decode() in DEFAULTS
        }


def _service_file(path: Path, postgres: LocalPostgres) -> None:
    path.write_text(
        "# the operator's\n[other]\nkeepalives_idle=1\n\n[catalog]\n"
        f"host=127.0.0.1\nport={postgres.port}\ndbname=postgres\nuser=postgres\n"
        + "".join(f"{name}={value}\n" for name, value in OPERATORS.items())
    )


@pytest.mark.parametrize("found", ["url-service", "PGSERVICE", "PGSYSCONFDIR"])
def test_the_service_file_s_values_win_over_the_defaults(
    postgres: LocalPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, found: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # (no ~/.pg_service.conf but the test's)
    url = "postgresql://?service=catalog"
    if found == "PGSYSCONFDIR":
        _service_file(tmp_path / "pg_service.conf", postgres)
        monkeypatch.setenv("PGSYSCONFDIR", str(tmp_path))
    else:
        _service_file(tmp_path / "services.conf", postgres)
        monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "services.conf"))
    if found == "PGSERVICE":
        monkeypatch.setenv("PGSERVICE", "catalog")
        url = "postgresql://"
    assert _options(url) == {**DEFAULTS, **OPERATORS}


def test_the_url_s_value_wins_over_the_service_file_s(
    postgres: LocalPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _service_file(tmp_path / "services.conf", postgres)
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "services.conf"))
    found = _options("postgresql://?service=catalog&keepalives_idle=7")
    assert found == {**DEFAULTS, **OPERATORS, "keepalives_idle": "7"}
