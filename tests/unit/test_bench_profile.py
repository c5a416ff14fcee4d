"""How the receiver profile sums py-spy's stacks into our steps (pure, no profiler run)."""

from __future__ import annotations

import pytest
from bench.receiver_profile import classify, summarise

ENTRY = [
    "_run_module_as_main (<frozen runpy>:198)",
    "main (uvicorn/main.py:580)",
    "Server.run (uvicorn/server.py:68)",
    "asyncio_run (uvicorn/_compat.py:30)",
]
ROUTE = [
    *ENTRY,
    "_run_once (asyncio/base_events.py:1922)",
    "Task.__step (asyncio/tasks.py:267)",
    "__call__ (starlette/routing.py:76)",
    "receive (receiver/app.py:120)",
]


@pytest.mark.parametrize(
    ("callees", "group"),
    [
        (["parse_json (receiver/formats.py:40)", "loads (json/__init__.py:346)"], "parse"),
        (["encode (catalog_contract/codec.py:30)", "write (fastavro/_write.py:8)"], "encode"),
        (["to_change (receiver/postback.py:90)", "price (receiver/values.py:22)"], "validate"),
        (["publish (receiver/publisher.py:51)", "send (aiokafka/producer.py:9)"], "produce"),
        # Ours that the old groups left to the route (so to HTTP): the compiled Avro writer
        # (generated code, no file), the records' assembly, the partitioner and the pace.
        (["records (catalog_contract/writing.py:4)", "write (<compiled_writer>:1)"], "encode"),
        (["send (aiokafka/producer.py:9)", "p (receiver/key_partitioner.py:5)"], "produce"),
        (["publish (receiver/publisher.py:5)", "e (receiver/produce_pacing.py:9)"], "produce"),
        (["observe (prometheus_client/metrics.py:600)"], "metrics"),
        (["seen (receiver/recent.py:30)"], "repeat window, dead letters"),
        # Our route's own lines, and the standard library they call, are HTTP's.
        (["dumps (json/__init__.py:231)"], "HTTP"),
        (["RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:524)"], "HTTP"),
        ([], "HTTP"),
    ],
)  # fmt: skip
def test_a_library_counts_for_the_step_of_ours_that_calls_it(
    callees: list[str], group: str
) -> None:
    assert classify([*ROUTE, *callees]) == group


def test_stacks_claimed_by_no_group_are_the_event_loop_or_other() -> None:
    assert (
        classify(["run_forever (asyncio/base_events.py:608)", "select (selectors.py:468)"])
        == "event loop"
    )
    # uvloop runs in C: a sample of its own work shows only the frames that started it.
    assert classify(ENTRY) == "event loop"
    assert classify(["<module> (somewhere.py:1)"]) == "other"
    assert classify(["frame without a path"]) == "other"


def test_absolute_paths_are_claimed_like_relative_ones() -> None:
    stack = ["_sender_routine (/x/site-packages/aiokafka/producer/sender.py:90)"]
    assert classify(stack) == "produce"


def test_summarise_adds_each_stacks_count_to_its_group() -> None:
    raw = "\n".join(
        [
            "a (receiver/app.py:1);b (receiver/formats.py:2) 7",
            "a (receiver/app.py:1);c (fastavro/x.py:3) 2",
            "a (receiver/app.py:1) 5",
            "a (receiver/app.py:1);b (receiver/formats.py:9) 1",
            "",
        ]
    )
    assert summarise(raw) == {"parse": 8, "encode": 2, "HTTP": 5}
