"""Read-your-writes waiters: a batch answers exactly the readers whose position it holds, all in
the same loop turn, and readers that give up are forgotten."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projector import position_waiters
from projector.app import create_app
from projector.batch import plan_batch
from projector.generations import SqliteGenerations
from projector.hot_reads import Reads
from projector.position_waiters import PositionWaiters
from projector.records import Incoming
from projector.settings import ProjectorSettings
from tests.factories import change


async def _turns_until(done: object, limit: int = 10_000) -> int:
    """Loop turns (each a `sleep(0)`) until `done()` holds."""
    for turns in range(limit):
        if done():  # type: ignore[operator]
            return turns
        await asyncio.sleep(0)
    raise AssertionError(f"not done after {limit} loop turns")


class _Consumer:
    """What the end of a batch asks of aiokafka's consumer (the offsets mirror)."""

    def assignment(self) -> set[object]:
        return set()


async def test_one_batch_answers_every_reader_it_satisfies_in_the_same_loop_turn(
    tmp_path: Path,
) -> None:
    # 300 readers wait for positions 0:0..0:299 and 50 for positions further on. One batch
    # applies up to 0:299. With an asyncio.Condition each reader took the condition's lock in
    # turn to test its position: 350 loop turns per batch (and the consumer queued behind).
    db = tmp_path / "views.db"
    settings_ = ProjectorSettings(store_url=f"sqlite:///{db}", read_your_writes_max_wait_s=30)
    app = create_app(settings_, SqliteGenerations(db), run_consumer=False)
    runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        reads = Reads(runtime, settings_)
        near = [asyncio.create_task(reads.fresh_enough(f"0:{n}")) for n in range(300)]
        far = [asyncio.create_task(reads.fresh_enough(f"0:{1000 + n}")) for n in range(50)]
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in near + far)
        event = change("sku-1")
        records = [Incoming(0, n, "42", "sku-1", event) for n in range(300)]
        plan = plan_batch(records, {}, lambda _: None)
        runtime.store.write(settings_.topic, plan)
        runtime.projector._positioned.add(0)  # assigned and read from the store, as any batch's
        ending = asyncio.create_task(runtime.projector._done(_Consumer(), plan))
        turns = await _turns_until(lambda: all(t.done() for t in near) and ending.done())
        assert turns <= 3
        assert [t.result() for t in near] == [None] * 300  # answered, no 504
        assert not any(t.done() for t in far)
        for t in far:
            t.cancel()
        await asyncio.gather(*far, return_exceptions=True)
        assert len(runtime.waiters) == 0


async def test_a_position_is_held_once_the_next_offset_is_past_it() -> None:
    waiters = PositionWaiters()
    waiting = asyncio.create_task(waiters.wait(0, 7, 30))
    other = asyncio.create_task(waiters.wait(1, 0, 30))
    await asyncio.sleep(0)
    assert len(waiters) == 2
    assert waiters.reached({0: 7}) == 0  # the views expect 0:7 next: they do not hold it
    assert waiters.reached({1: 0, 2: 100}) == 0
    assert waiters.reached({0: 8}) == 1
    assert await waiting is True
    assert len(waiters) == 1
    assert not other.done()
    assert waiters.reached({0: 9, 1: 1}) == 1
    assert await other is True
    assert len(waiters) == 0


async def test_a_reader_that_times_out_gets_false_and_is_forgotten() -> None:
    waiters = PositionWaiters()
    assert await waiters.wait(3, 5, 0.01) is False
    assert len(waiters) == 0
    assert waiters.reached({3: 100}) == 0  # nobody is woken for it later


async def test_a_cancelled_reader_is_forgotten() -> None:
    waiters = PositionWaiters()
    waiting = asyncio.create_task(waiters.wait(0, 1, 30))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(waiters) == 0
    assert waiters.reached({0: 2}) == 0


def _entries(waiters: PositionWaiters) -> int:
    return sum(len(heap) for heap in waiters._heaps.values())


async def test_readers_asking_for_positions_that_never_come_do_not_pile_up() -> None:
    # A client asking for far-away positions, again and again: each gets its 504, and the
    # entries they leave are swept, so memory stays bounded by the readers really waiting.
    waiters = PositionWaiters()
    live = asyncio.create_task(waiters.wait(0, 10**12, 60))
    for n in range(5 * position_waiters.SWEEP_AT_LEAST):
        assert await waiters.wait(n % 6, 10**9 + n, 0) is False
    assert len(waiters) == 1
    assert _entries(waiters) <= 2 * position_waiters.SWEEP_AT_LEAST
    assert waiters.reached({0: 10**12 + 1}) == 1
    assert await live is True


_Step = st.one_of(
    st.tuples(st.just("wait"), st.integers(0, 2), st.integers(0, 30)),
    st.tuples(st.just("reach"), st.integers(0, 3), st.integers(0, 10)),
    st.tuples(st.just("give up"), st.integers(0, 50), st.just(0)),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(_Step, max_size=60), sweep=st.sampled_from([1, 2, 1024]))
def test_waiters_against_a_model(steps: list[tuple[str, int, int]], sweep: int) -> None:
    """Any interleaving of readers arriving, batches applying and readers giving up: each batch
    wakes exactly the readers a plain list says it holds, and only those."""

    async def scenario() -> None:
        waiters = PositionWaiters(sweep_at_least=sweep)
        applied: dict[int, int] = {}
        model: dict[asyncio.Task[bool], tuple[int, int]] = {}  # readers still waiting
        for kind, a, b in steps:
            if kind == "wait":
                model[asyncio.create_task(waiters.wait(a, b, 60))] = (a, b)
            elif kind == "reach":
                applied[a] = applied.get(a, 0) + b  # positions only move forward
                due = {t for t, (p, o) in model.items() if p in applied and o < applied[p]}
                assert waiters.reached(applied) == len(due)
                await asyncio.sleep(0)
                assert all(t.done() and t.result() is True for t in due)
                for t in due:
                    del model[t]
            elif model:
                gone = list(model)[a % len(model)]
                gone.cancel()
                del model[gone]
            await asyncio.sleep(0)
            assert not any(t.done() for t in model)
            assert len(waiters) == len(model)
        for t in model:
            t.cancel()
        await asyncio.gather(*model, return_exceptions=True)
        assert len(waiters) == 0

    asyncio.run(scenario())


def test_a_partition_past_the_topics_count_is_never_reachable_once_the_count_is_known() -> None:
    waiters = PositionWaiters()
    assert waiters.unknown_partition(7) is None  # not known yet: waited for, as before
    waiters.partitions = 3
    assert [waiters.unknown_partition(p) for p in (0, 2)] == [None, None]
    assert waiters.unknown_partition(3) == "the topic has no partition 3 (it has 3: 0 to 2)"
    assert waiters.unknown_partition(10**9) == (
        "the topic has no partition 1000000000 (it has 3: 0 to 2)"
    )


class _Recount:
    """The topic's partition count as Kafka says it (`count`), each ask noted with its time."""

    def __init__(self, count: int | None, hang: bool = False, fail: bool = False) -> None:
        self.count, self.hang, self.fail = count, hang, fail
        self.asked: list[float] = []

    async def __call__(self) -> int | None:
        self.asked.append(asyncio.get_running_loop().time())
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail:
            raise RuntimeError("kafka gone")
        await asyncio.sleep(0.01)
        return self.count


@pytest.fixture
def quick_recounts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(position_waiters, "RECOUNT_EVERY_S", 0.2)
    monkeypatch.setattr(position_waiters, "RECOUNT_WAIT_S", 0.3)


@pytest.mark.usefixtures("quick_recounts")
async def test_a_miss_asks_kafka_again_before_refusing() -> None:
    """Partitions added since the consumer's metadata last looked (every 5 minutes): the
    position is waited for, not refused; a partition still missing is refused on the new count."""
    waiters = PositionWaiters()
    waiters.partitions = 1
    recount = _Recount(2)
    assert await waiters.refusal(0, recount) is None  # known: Kafka not asked
    assert recount.asked == []
    assert await waiters.refusal(1, recount) is None
    assert waiters.partitions == 2
    assert await waiters.refusal(5, recount) == ("the topic has no partition 5 (it has 2: 0 to 1)")
    assert len(recount.asked) == 2
    assert await waiters.refusal(5, None) == "the topic has no partition 5 (it has 2: 0 to 1)"
    assert len(recount.asked) == 2  # no way to ask: the count known


@pytest.mark.usefixtures("quick_recounts")
async def test_misses_share_one_recount_started_after_they_came_at_most_every_interval() -> None:
    waiters = PositionWaiters()
    waiters.partitions = 3
    recount = _Recount(3)
    reasons = await asyncio.gather(*(waiters.refusal(7, recount) for _ in range(50)))
    assert set(reasons) == {"the topic has no partition 7 (it has 3: 0 to 2)"}
    assert len(recount.asked) == 1
    # A miss right after: not answered on that count (asked before it came), but on one
    # started after it, no sooner than the interval after the last.
    loop = asyncio.get_running_loop()
    came = loop.time()
    assert await waiters.refusal(7, recount) is not None
    assert len(recount.asked) == 2
    assert recount.asked[1] >= came
    assert recount.asked[1] - recount.asked[0] >= 0.2 - 0.01


@pytest.mark.usefixtures("quick_recounts")
@pytest.mark.parametrize("trouble", ["hang", "fail"])
async def test_a_recount_kafka_does_not_answer_leaves_the_count_known(
    trouble: str, caplog: pytest.LogCaptureFixture
) -> None:
    waiters = PositionWaiters()
    waiters.partitions = 2
    recount = _Recount(None, hang=trouble == "hang", fail=trouble == "fail")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await waiters.refusal(2, recount) == "the topic has no partition 2 (it has 2: 0 to 1)"
    assert loop.time() - started < 0.2 + 0.3 + 0.2  # the interval and the recount's wait, at most
    await asyncio.sleep(0.35)  # the recount given up
    assert "could not count the topic's partitions again" in caplog.text
    assert waiters.partitions == 2
