"""On a real PostgreSQL: the view store's connections ask libpq for TCP keepalives and a TCP user
timeout, so a query on an open connection whose network went silent fails in seconds, not after
TCP's retransmissions (~15 min). Before, none was set (libpq's defaults: the system's keepalive
idle of 2 h, no user timeout). A value the store URL gives itself wins."""

from __future__ import annotations

import pytest

from projector.postgres_store import connect
from tests.postgres import LocalPostgres

EXPECTED = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}


def _options(url: str) -> dict[str, str]:
    with connect(url) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        return {
            o.keyword.decode(): (o.val or b"").decode()
            for o in connection.pgconn.info
            if o.keyword.decode() in EXPECTED
        }


def test_the_store_s_connections_limit_a_silent_network(postgres: LocalPostgres) -> None:
    assert _options(postgres.url("postgres")) == EXPECTED


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "keepalives"])
def test_the_url_s_own_value_wins(postgres: LocalPostgres, name: str) -> None:
    found = _options(f"{postgres.url('postgres')}?{name}=7")
    assert found == {**EXPECTED, name: "7"}, found
