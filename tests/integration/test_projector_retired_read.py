"""A reader still on the generation a rebuild replaced (it took `runtime.store` before the
switch and reads after it) finds it closed, or on PostgreSQL its schema dropped. Asked again, it
reads the new generation, so that failure is a 503 "retry", not a defect's 500: on the code
before, a dropped schema's UndefinedTable and a closed SQLite file's ProgrammingError were
StoreFailed (the read API's logged 500, which clients do not retry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector.errors import StoreFailed, StoreUnavailable
from projector.generations import Generations
from projector.rebuilding import Rebuild
from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.support import Topics, eventually, produce_events, projector_settings

pytestmark = pytest.mark.broker


async def test_a_read_of_a_retired_generation_is_a_retry(
    kafka_bootstrap: str, topics: Topics, generations: Generations, tmp_path: Path
) -> None:
    await produce_events(kafka_bootstrap, topics.product, [change("a", "c", price="1.00")])
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db")
    async with projector_in_process(settings, generations) as (runtime, client):
        await eventually(lambda: runtime.store.catalogs())
        old = runtime.store
        await Rebuild(runtime).run()  # switches, then retires the old generation (dropped)
        assert runtime.rebuild_status.state == "done"
        assert runtime.store is not old
        with pytest.raises(StoreUnavailable) as raised:
            old.catalogs()
        assert not isinstance(raised.value, StoreFailed), raised.value
        assert (await client.get("/v1/catalogs")).json()["catalogs"][0]["catalog_id"] == "c"
