"""The receiver's pure per-postback steps, timed in-process (µs per postback).

py-spy's profile of a load row is noisy on a shared machine; these steps are pure CPU, so
`timeit` over the same varied bodies bench/load.lua sends measures each one reliably (the best
of several repeats, as pyperf does). Run: `.venv/bin/python -m bench.receiver_steps`, or with
`--against REV` for a before/after table: REV's services/ and schemas/ (git archive) and the
working tree's are timed in alternating child processes, each step's best kept, so that the
machine's load changes both sides alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from catalog_contract.events import CONTENT_FIELDS
from catalog_contract.writing import product_records
from receiver import formats, intake, intake_flow
from receiver.app import create_app
from receiver.metrics import ReceiverMetrics
from receiver.postback import build_change, event_id_for
from receiver.publisher import Acknowledged
from receiver.settings import ReceiverSettings

PATH = "/v1/postbacks/product-changes"
BODIES = 300
REPEATS = 60
SECRET = "bench-secret-0123456789"
# Not a part of the total: the whole of the steps above, and the HTTP side of ours around them.
WHOLE = "whole postback (ASGI)"
WHOLE_WINDOW = "whole, window on (ASGI)"  # as by default: each write is also kept
WINDOW_TIMED = 1e-6  # s: on (its bookkeeping done), yet no body is a repeat when it comes again
# The whole again with the steps' results given (looked up by body, made before the timing):
# what is left is the route's own work around them; the differences are each step's cost in
# the route, which is not its cost alone above (there, its own loop keeps its code and data
# in the caches; in the route every step evicts the others').
GIVEN_CHANGE = "whole, change given (ASGI)"  # parse and validate not timed
GIVEN_RECORDS = "whole, change+records given"  # nor encode: HTTP, auth, bookkeeping, answer
WHOLES = (WHOLE, WHOLE_WINDOW, GIVEN_CHANGE, GIVEN_RECORDS)


def load_bodies(count: int = BODIES, seed: int = 7) -> list[bytes]:
    """JSON postbacks shaped exactly as bench/load.lua's `json` mode writes them."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        n = rng.randint(1, 100_000)
        price = f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"
        stock = "InStock" if rng.random() < 0.8 else "OutOfStock"
        hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        at = f"2026-11-27T{hour:02d}:{minute:02d}:{second:02d}Z"
        bodies.append(
            (
                f'{{"CatalogId":"{n % 10}","CatalogItemId":"sku-{n}","Name":"Product {n}",'
                f'"Category":"Kitchen","Url":"https://shop.example/p/{n}",'
                f'"CurrentPrice":"{price}","OriginalPrice":"599.00","Currency":"EUR",'
                f'"StockAvailability":"{stock}","Gtin":"0401234{n:06d}","DateLastUpdated":"{at}"}}'
            ).encode()
        )
    return bodies


class _AtOnce:
    """Kafka acknowledging every write at once: what is left of a postback is the receiver's
    own work on it (everything but uvicorn and aiokafka)."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def topics_present(self, *topics: str) -> bool:
        return True

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]:
        return [Acknowledged(topic, 0, 1) for _ in values]


def whole_postback(bodies: list[bytes], window_s: float = 0, given: str = "") -> Callable[[], None]:
    """The POST route as uvicorn calls it (scope, receive, send), for each body in turn, in one
    event loop: auth, body, parse, validate, encode, publish (at once), metrics, the answer.
    `window_s`: the repeat window (0: none). The same bodies come again every round: keep the
    window shorter than a round (WINDOW_TIMED) for every postback to be written each time.
    `given`: "change" (each body's validated change made beforehand, handed to the route while
    it is timed) or "records" (the change and its records): see GIVEN_CHANGE."""
    settings = ReceiverSettings(secrets=[SECRET], recent_window_s=window_s)  # type: ignore[list-item]
    app = create_app(settings, _AtOnce())
    headers = [
        (b"host", b"receiver"),
        (b"content-type", b"application/json"),
        (b"x-postback-token", SECRET.encode()),
    ]
    scopes = [
        {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", b"%d" % len(body))],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8080),
        }
        for body in bodies
    ]
    loop = asyncio.new_event_loop()
    statuses: list[int] = []
    steps_given = _StepsGiven(bodies, given)

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def all_of_them() -> None:
        for scope, body in zip(scopes, bodies, strict=True):
            message = {"type": "http.request", "body": body, "more_body": False}

            async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
                return message

            await app(scope, receive, send)

    def step() -> None:
        statuses.clear()
        with steps_given:
            loop.run_until_complete(all_of_them())
        if statuses != [200] * len(bodies):
            raise RuntimeError(f"the receiver did not answer 200: {sorted(set(statuses))}")

    return step


_SWAPPED = ("change_from_request", "product_records")


class _StepsGiven:
    """While timed (`with`), intake_flow's parse+validate (and encode) answer from results made
    here, before any timing (same bodies, one clock reading: each event as the route makes it);
    put back after, so that the other rows time the real steps. `given`: "", "change" or
    "records"."""

    def __init__(self, bodies: list[bytes], given: str) -> None:
        self._given = given
        received = datetime.now(UTC)
        self._changes = (
            {
                body: intake.change_from_request("POST", "application/json", "", body, received, {})
                for body in bodies
            }
            if given
            else {}
        )
        self._records = {id(c): product_records(c) for c in self._changes.values()}
        # (through the module's namespace: the names are its imports, not its interface)
        self._real = {name: vars(intake_flow)[name] for name in _SWAPPED}

    def _change(self, method: str, kind: str | None, query: str, body: bytes, *_: Any) -> Any:
        return self._changes[body]

    def _records_of(self, change: Any) -> Any:
        return self._records[id(change)]

    def __enter__(self) -> None:
        if self._given:
            vars(intake_flow)["change_from_request"] = self._change
        if self._given == "records":
            vars(intake_flow)["product_records"] = self._records_of

    def __exit__(self, *_: object) -> None:
        vars(intake_flow).update(self._real)


def per_item_us(step: Callable[[], object], items: int) -> float:
    # CPU time of this process, not wall time: on a shared machine the wall clock counts the
    # time other processes held the core.
    best = min(timeit.repeat(step, timer=time.process_time, number=1, repeat=REPEATS))
    return best / items * 1e6


def measure() -> dict[str, float]:
    """Each step's µs per postback, in this process's code."""
    bodies = load_bodies()
    received = datetime(2026, 11, 28, tzinfo=UTC)
    raws = [formats.parse_body("application/json", body) for body in bodies]
    changes = [build_change(raw, received) for raw in raws]
    contents = [{name: getattr(c, name) for name in CONTENT_FIELDS} for c in changes]
    metrics = ReceiverMetrics()

    def parse() -> None:
        for body in bodies:
            formats.parse_body("application/json", body)

    def validate() -> None:
        for raw in raws:
            build_change(raw, received)

    def content_id() -> None:
        for content in contents:
            event_id_for(content)

    def encode() -> None:
        for change in changes:
            product_records(change)

    # As Intake.handle counts; before the plain in-flight count (--against), with the gauge.
    plain = hasattr(metrics, "handling")

    def count() -> None:
        for _ in bodies:
            if plain:
                metrics.handling += 1
            else:
                metrics.in_flight.inc()
            started = time.perf_counter()
            metrics.produce_latency.observe(time.perf_counter() - started)
            metrics.accepted.inc()
            metrics.latency.observe(time.perf_counter() - started)
            if plain:
                metrics.handling -= 1
            else:
                metrics.in_flight.dec()

    steps = {
        "parse": parse,
        "validate": validate,
        "  of which content id": content_id,
        "encode": encode,
        "metrics": count,
        WHOLE: whole_postback(bodies),
        WHOLE_WINDOW: whole_postback(bodies, window_s=WINDOW_TIMED),
        GIVEN_CHANGE: whole_postback(bodies, given="change"),
        GIVEN_RECORDS: whole_postback(bodies, given="records"),
    }
    return {name: per_item_us(step, len(bodies)) for name, step in steps.items()}


def _table(columns: dict[str, dict[str, float]]) -> None:
    print(f"{'step (us/postback)':<24}" + "".join(f"{name:>10}" for name in columns))
    rows = [step for step in next(iter(columns.values())) if step not in WHOLES]
    for step in [*rows, "total", *WHOLES]:
        cells = []
        for figures in columns.values():
            value = sum(v for k, v in figures.items() if not k.startswith(" ") and k not in WHOLES)
            cells.append(figures.get(step, value))
        print(f"{step:<24}" + "".join(f"{cell:>10.1f}" for cell in cells))


def _child(pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-m", "bench.receiver_steps", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(out)
    return figures


def compare(revision: str, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(
            ["git", "archive", revision, "services", "schemas"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        best: dict[str, dict[str, float]] = {"before": {}, "after": {}}
        for _ in range(rounds):
            for side, path in (("before", f"{old}/services"), ("after", None)):
                for step, us in _child(path).items():
                    best[side][step] = min(us, best[side].get(step, us))
    print(f"before = {revision}, after = working tree; best of {rounds} alternating runs")
    _table(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", metavar="REV", help="a git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.against:
        compare(args.against, args.rounds)
    elif args.json:
        print(json.dumps(measure()))
    else:
        _table({"us": measure()})


if __name__ == "__main__":
    main()
