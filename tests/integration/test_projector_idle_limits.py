"""On a real PostgreSQL: both holders of the generation pointer row (a switch, FOR UPDATE; a live
batch, FOR SHARE) bound how long their transaction may stay idle, each with its own limit from
one module (generations_held), for that transaction only. Before, the batch's limit and its SET
were a second copy of the rule in postgres_store (`batch_limits` did not exist: this test fails
on the old code at its import)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from projector.generations_held import (
    BATCH_SILENCE_LIMIT,
    SWITCH_SILENCE_LIMIT,
    batch_limits,
    hold_limits,
)
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from tests.postgres import LocalPostgres

SHOW = "SHOW idle_in_transaction_session_timeout"


@pytest.mark.parametrize(
    ("holder", "limit"),
    [(hold_limits, SWITCH_SILENCE_LIMIT), (batch_limits, BATCH_SILENCE_LIMIT)],
)
def test_each_holder_limits_its_transaction_only(
    postgres: LocalPostgres, holder: Callable[[Any], None], limit: str
) -> None:
    url = postgres.url("postgres")
    with psycopg.connect(url) as connection:
        with connection.transaction():
            holder(connection)
            assert connection.execute(SHOW).fetchone() == (limit,)
        assert connection.execute(SHOW).fetchone() == ("0",)  # the next transaction: none


def test_a_live_batch_of_the_store_takes_the_batch_limit(postgres: LocalPostgres) -> None:
    store = PostgresGenerations(postgres.create_database("idle_limits")).open_active()
    assert isinstance(store, PostgresStore)
    try:
        with store._transaction() as cursor:
            store._check_pointer(cursor)  # (what `write` and `check_active` do first)
            cursor.execute(SHOW)
            assert cursor.fetchone() == (BATCH_SILENCE_LIMIT,)
    finally:
        store.close()
