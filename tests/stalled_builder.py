"""A rebuild's new PostgreSQL generation that refuses every batch from a chosen moment on (a
trigger on its offsets table, as a store failing its writes would): the switch tests' builder
that never reaches the live consumers' positions."""

from __future__ import annotations

import psycopg
import pytest

from projector.consumer import ConsumerLoop

_FUNCTION = (
    "CREATE FUNCTION public.builder_stalls() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the new generation takes no batch (test)'; END $$"
)


def stall(url: str, schema: str) -> None:
    """From now on the generation `schema` refuses every batch."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(_FUNCTION)
        connection.execute(
            f'CREATE TRIGGER stalls BEFORE INSERT OR UPDATE ON "{schema}".offsets '
            "FOR EACH STATEMENT EXECUTE FUNCTION public.builder_stalls()"
        )


def mend(url: str) -> None:
    """The stalled generation takes batches again (if it still exists)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP FUNCTION public.builder_stalls() CASCADE")


def stall_the_first_builder(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next consumer asked whether it caught up (a rebuild's builder, when the live ones
    are caught up already) stalls before its first batch, and says it is caught up, as every
    consumer does from then on: the switch is let through at once, to a builder that takes no
    batch at all."""

    def stalled_at_once(builder: ConsumerLoop) -> bool:
        stall(url, builder.store.name)
        monkeypatch.setattr(ConsumerLoop, "caught_up", lambda self: True)
        return True

    monkeypatch.setattr(ConsumerLoop, "caught_up", stalled_at_once)
