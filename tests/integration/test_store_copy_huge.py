"""A price whose units run to thousands of digits (a record the receiver did not write: the
projector takes whatever the topic holds) is a value the store cannot hold, like any integer
beyond 64 bits: refused (StoreRefused, so the consumer dead-letters that record, as it did
when the rows went in by executemany), never taken for an outage that retries the same batch
forever and stalls its partition."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from projector.batch import plan_batch
from projector.errors import StoreRefused
from projector.postgres_store import PostgresStore
from projector.records import Incoming
from tests.factories import change
from tests.postgres import LocalPostgres

TOPIC = "products"


@pytest.fixture
def store(postgres: LocalPostgres) -> Iterator[PostgresStore]:
    url = postgres.create_database(f"huge_{uuid.uuid4().hex[:10]}")
    found = PostgresStore(url, "views")
    found.create()
    yield found
    found.close()


def test_a_price_of_thousands_of_digits_is_refused_not_retried(store: PostgresStore) -> None:
    huge = dataclasses.replace(change("huge", "1"), current_price=Decimal("1E5000"))
    plan = plan_batch([Incoming(0, 0, "1", "huge", huge)], {}, lambda key: None)
    with pytest.raises(StoreRefused):
        store.write(TOPIC, plan)
    ok = change("ok", "1", price="1.00")
    store.write(TOPIC, plan_batch([Incoming(0, 0, "1", "ok", ok)], {}, lambda key: None))
    assert [row[1] for row in store._query("SELECT * FROM items")] == ["ok"]
