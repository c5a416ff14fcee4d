"""projector.shared_hops: readers asking while a hop is under way share the next one; each gets
its own row or its own read's exception, in bounded hops, and none is left waiting."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from projector.batch import ItemKey
from projector.shared_hops import SharedHops
from projector.store_reads import StoreReads


class Rows(StoreReads):
    def __init__(self, name: str, rows: dict[ItemKey, tuple[Any, ...]]) -> None:
        self.name = name
        self.rows = rows
        self.calls: list[list[ItemKey]] = []
        self.gate = threading.Event()
        self.gate.set()

    def item_row(self, key: ItemKey) -> tuple[Any, ...] | None:
        self.gate.wait(5)
        if key[1] == "broken":
            raise RuntimeError(f"cannot read {key}")
        return self.rows.get(key)


ROWS = {("c", f"i{n}"): ("c", f"i{n}", n) for n in range(10)}


async def test_each_reader_gets_its_own_row_or_its_own_failure() -> None:
    hops = SharedHops(lambda: Rows("a", ROWS))
    keys = [("c", "i3"), ("c", "broken"), ("c", "none"), ("c", "i7")]
    got = await asyncio.gather(*(hops.item_row(k) for k in keys), return_exceptions=True)
    assert got[0] == ("c", "i3", 3)
    assert got[2] is None
    assert got[3] == ("c", "i7", 7)
    assert isinstance(got[1], RuntimeError)
    assert str(got[1]) == "cannot read ('c', 'broken')"
    assert hops.hops == 1


async def test_readers_arriving_during_a_hop_share_the_next_and_a_hop_is_bounded() -> None:
    store = Rows("a", ROWS)
    hops = SharedHops(lambda: store, most_per_hop=3)
    store.gate.clear()  # the first hop waits in its thread
    first = asyncio.ensure_future(hops.item_row(("c", "i0")))
    await asyncio.sleep(0.05)
    later = [asyncio.ensure_future(hops.item_row(("c", f"i{n}"))) for n in range(1, 8)]
    await asyncio.sleep(0.05)
    store.gate.set()
    assert await first == ("c", "i0", 0)
    assert await asyncio.gather(*later) == [("c", f"i{n}", n) for n in range(1, 8)]
    assert hops.hops == 1 + 3  # the first alone, then 7 readers in hops of at most 3


async def test_each_hop_reads_the_store_of_its_time() -> None:
    stores = {"now": Rows("old", {("c", "x"): ("old",)})}
    hops = SharedHops(lambda: stores["now"])
    assert await hops.item_row(("c", "x")) == ("old",)
    stores["now"] = Rows("new", {("c", "x"): ("new",)})  # a rebuild's switch
    assert await hops.item_row(("c", "x")) == ("new",)


async def test_a_gone_reader_does_not_disturb_the_others() -> None:
    store = Rows("a", ROWS)
    hops = SharedHops(lambda: store)
    store.gate.clear()
    gone = asyncio.ensure_future(hops.item_row(("c", "i1")))
    stays = asyncio.ensure_future(hops.item_row(("c", "i2")))
    await asyncio.sleep(0.05)
    gone.cancel()
    store.gate.set()
    assert await stays == ("c", "i2", 2)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await hops.item_row(("c", "i4")) == ("c", "i4", 4)  # and hops go on


async def test_a_hop_that_cannot_start_fails_its_readers_and_the_next_hop_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hops = SharedHops(lambda: Rows("a", ROWS))

    async def no_thread(*_: Any) -> Any:
        raise RuntimeError("cannot schedule new futures after shutdown")

    with monkeypatch.context() as patched:
        patched.setattr(asyncio, "to_thread", no_thread)
        got = await asyncio.gather(
            hops.item_row(("c", "i1")), hops.item_row(("c", "i2")), return_exceptions=True
        )
    assert [str(g) for g in got] == ["cannot schedule new futures after shutdown"] * 2
    assert await hops.item_row(("c", "i5")) == ("c", "i5", 5)


async def test_a_hop_cancelled_at_shut_down_leaves_no_reader_waiting() -> None:
    store = Rows("a", ROWS)
    hops = SharedHops(lambda: store)
    store.gate.clear()
    readers = [asyncio.ensure_future(hops.item_row(("c", f"i{n}"))) for n in range(3)]
    await asyncio.sleep(0.05)
    later = asyncio.ensure_future(hops.item_row(("c", "i9")))  # waits for the next hop
    await asyncio.sleep(0)
    hopping = hops._hopping
    assert hopping is not None
    hopping.cancel()
    store.gate.set()
    got = await asyncio.gather(*readers, later, return_exceptions=True)
    assert all(isinstance(g, asyncio.CancelledError) for g in got)
