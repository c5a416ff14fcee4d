"""Freshness: a postback accepted (200) -> visible through the read API, under a steady load at
each rate (100 and 1,000 postbacks/s), receiver and projector on one topic."""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import projector_env, receiver_env, serve, uvicorn
from bench.lean_http import HttpError, Pool
from catalog_contract import topics
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all

RATES: tuple[int, ...] = (100, 1_000)
POSTBACKS = "/v1/postbacks/product-changes"


@dataclass
class Freshness:
    rate: int
    delays_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    offered_rate: float = 0.0  # postbacks/s the schedule really started (it can fall behind)
    accepted_rate: float = 0.0  # 200s/s, first send to last 200: did the receiver keep up?
    client_cpu_share: float = 0.0  # the generator's CPU, as a share of the run's wall time

    def percentile(self, share: float) -> float:
        """Nearest rank: the smallest delay that `share` of the delays do not exceed."""
        ordered = sorted(self.delays_ms)
        return ordered[max(0, math.ceil(len(ordered) * share) - 1)]

    def figures(self) -> dict[str, float]:
        if not self.delays_ms:
            raise RuntimeError(f"freshness at {self.rate}/s: nothing became visible: {self.errors}")
        prefix = f"freshness_{self.rate}_"
        return {
            prefix + "count": len(self.delays_ms),
            prefix + "errors": sum(self.errors.values()),
            prefix + "p50_ms": self.percentile(0.50),
            prefix + "p99_ms": self.percentile(0.99),
            prefix + "offered_rate": self.offered_rate,
            prefix + "accepted_rate": self.accepted_rate,
            prefix + "client_cpu_share": self.client_cpu_share,
        }


def _pool(url: str, size: int) -> Pool:
    where = urlsplit(url)
    return Pool(where.hostname or "127.0.0.1", where.port or 80, size)


async def measure(receiver: str, projector: str, secret: str, rate: int, seconds: int) -> Freshness:
    """Post `rate` postbacks a second on a fixed schedule; after each 200, read the item back
    with `min_position` (the read API waits until the view has it) and time 200 -> visible."""
    result = Freshness(rate)
    posts, reads = _pool(receiver, 256), _pool(projector, 256)
    headers = {"Content-Type": "application/json", "X-Postback-Token": secret}
    run = uuid.uuid4().hex[:6]
    accepted_count, last_accepted = 0, 0.0

    async def one(n: int) -> None:
        nonlocal accepted_count, last_accepted
        item = f"f{rate}-{run}-{n}"
        body = json.dumps({"CatalogId": "fresh", "CatalogItemId": item, "CurrentPrice": "9.99"})
        try:
            answer = await posts.request("POST", POSTBACKS, body.encode(), headers)
            accepted = time.perf_counter()
            if answer.status != 200:
                result.errors[f"receiver answered {answer.status}"] += 1
                return
            accepted_count, last_accepted = accepted_count + 1, max(last_accepted, accepted)
            position = answer.json()["position"]
            seen = await reads.request(
                "GET", f"/v1/catalogs/fresh/items/{item}?min_position={position}"
            )
        except HttpError as exc:
            result.errors[type(exc.__cause__).__name__] += 1
            return
        if seen.status == 200:
            result.delays_ms.append((time.perf_counter() - accepted) * 1000)
        else:
            result.errors[f"read API answered {seen.status}"] += 1

    total = rate * seconds
    tasks: list[asyncio.Task[None]] = []
    cpu_before = _cpu()
    started = time.perf_counter()
    # A fixed schedule, not a sleep between sends: sleeps overshoot, and at 1,000/s that adds up.
    while len(tasks) < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        while len(tasks) < due:
            tasks.append(asyncio.create_task(one(len(tasks))))
        await asyncio.sleep(1 / rate)
    result.offered_rate = total / (time.perf_counter() - started)
    await asyncio.gather(*tasks)
    result.accepted_rate = accepted_count / max(1e-9, last_accepted - started)
    result.client_cpu_share = (_cpu() - cpu_before) / (time.perf_counter() - started)
    await posts.close()
    await reads.close()
    return result


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    bootstrap: str, secret: str, seconds: int, logs: Path, rates: tuple[int, ...] = RATES
) -> dict[str, float]:
    """Receiver and projector on a fresh topic; one freshness row per rate in `rates`."""
    fresh = topics.product_topic(f"bench.fresh.{uuid.uuid4().hex[:6]}")
    dead = topics.dead_letter_topic(f"bench.fresh-dead.{uuid.uuid4().hex[:6]}")
    asyncio.run(ensure_all(bootstrap, [fresh, dead]))
    r_port, p_port = free_port(), free_port()
    db = Path(tempfile.mkdtemp(prefix="bench-views-")) / "views.db"
    figures: dict[str, float] = {}
    with (
        serve(
            uvicorn("receiver.main:app_from_env", r_port),
            r_port,
            receiver_env(bootstrap, fresh.name, dead.name, secret),
            "/readyz",
            logs / "receiver-fresh.log",
        ) as receiver,
        serve(
            [sys.executable, "-m", "catalog_stream.cli", "projector"],
            p_port,
            projector_env(bootstrap, fresh.name, f"sqlite:///{db}", p_port),
            # Ready: its partitions assigned and their ends known. Measured from /healthz, the
            # first postbacks also waited for the consumer group's join, a start-up cost.
            "/readyz",
            logs / "projector-fresh.log",
        ) as projector,
    ):
        for rate in rates:
            result = asyncio.run(measure(receiver.url, projector.url, secret, rate, seconds))
            figures.update(result.figures())
            print(
                f"  freshness at {rate}/s (sent {result.offered_rate:.0f}/s, "
                f"accepted {result.accepted_rate:.0f}/s): "
                f"p50 {result.percentile(0.5):.0f} ms, p99 {result.percentile(0.99):.0f} ms, "
                f"errors {dict(result.errors)}",
                flush=True,
            )
    return figures
