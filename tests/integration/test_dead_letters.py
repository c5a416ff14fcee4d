"""Dead letters as a workflow, through the real broker: refused postbacks are kept once however
often the platform retries them, summarised, shown, and re-driven after the mapping is fixed,
exactly once; accept mode; and records that always fit the topic."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_contract import codec, dead_letters
from tests.support import (
    AUTH,
    SECRET,
    Topics,
    eventually,
    projector_settings,
    read_topic,
    receiver_settings,
    run_cli,
    running_projector,
    running_receiver,
)

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"

# The partner renamed a key in the template ("sku" became "item"); the deployed map still says
# "sku", so CatalogItemId is missing from every postback.
OLD_MAP = {"catalog": "CatalogId", "sku": "CatalogItemId", "price": "CurrentPrice"}
FIXED_MAP = {**OLD_MAP, "item": "CatalogItemId"}
BODIES = [
    {
        "catalog": "7",
        "item": f"mug-{n}",
        "price": f"1{n}.50",
        "DateLastUpdated": "2026-11-28T10:00Z",
    }
    for n in range(3)
]


async def _post_all(receiver: httpx.AsyncClient) -> list[httpx.Response]:
    return [await receiver.post(PATH, json=body, headers=AUTH) for body in BODIES]


async def _cli(bootstrap: str, topics: Topics, *args: str) -> Any:
    if args[0] == "redrive":
        args = (*args, "--product-topic", topics.product)
    code, out, err = await run_cli(
        "dead-letters", *args, "--bootstrap-servers", bootstrap, "--topic", topics.dead_letter,
        "--json",
    )  # fmt: skip
    assert code == 0, err
    return json.loads(out)


async def _items(projector: httpx.AsyncClient) -> dict[str, Any]:
    page = (await projector.get("/v1/catalogs/7/items")).json()
    return {item["item_id"]: item for item in page["items"]}


async def test_refused_then_fixed_then_redriven_exactly_once(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = receiver_settings(kafka_bootstrap, topics, field_map=OLD_MAP)
    async with running_receiver(settings) as receiver:
        first = await _post_all(receiver)
        retries = await _post_all(receiver) + await _post_all(receiver)  # the platform retries
        metrics = (await receiver.get("/metrics")).text
    assert [a.status_code for a in first + retries] == [422] * 9
    ids = [a.json()["request_id"] for a in first]
    assert [a.json()["request_id"] for a in retries] == ids * 2  # the same answer each time
    assert "receiver_dead_letter_repeats_total 6.0" in metrics
    kept = [
        dead_letters.decode(r.value) for r in await read_topic(kafka_bootstrap, topics.dead_letter)
    ]
    refusals = [d for d in kept if d.repeat_of is None]
    assert [d.request_id for d in refusals] == ids  # one record per bad postback
    assert sorted((d.repeat_of, d.repeats) for d in kept if d.repeat_of) == sorted(
        (i, 2) for i in ids
    )  # tallies, written as the receiver stopped

    summary = await _cli(kafka_bootstrap, topics, "summary")
    assert (summary["records"], summary["repeats"]) == (3, 6)
    assert summary["by_status"][0] | {"first_seen": None, "last_seen": None} == {
        "status": 422, "kind": "invalid-postback", "records": 3, "repeats": 6,
        "first_seen": None, "last_seen": None, "examples": ids,
    }  # fmt: skip
    assert [(g["field"], g["problem"], g["records"]) for g in summary["by_field"]] == [
        ("CatalogItemId", "required but missing or empty", 3)
    ]
    shown = await _cli(kafka_bootstrap, topics, "show", ids[1])
    assert json.loads(shown["body"]) == BODIES[1]
    assert (shown["status"], shown["repeats"]) == (422, 2)
    assert SECRET not in json.dumps(shown)

    # Still the old map: a re-drive passes nothing and writes nothing.
    monkeypatch.setenv("CATALOG_RECEIVER_FIELD_MAP", json.dumps(OLD_MAP))
    unchanged = await _cli(kafka_bootstrap, topics, "redrive")
    assert (unchanged["passed"], unchanged["still_failed"]) == (0, 3)
    assert unchanged["still_failed_by_reason"][0]["reason"] == (
        "CatalogItemId: required but missing or empty"
    )

    # The operator fixes the map and restarts the receiver; the platform's retry of the first
    # postback now lands by itself.
    monkeypatch.setenv("CATALOG_RECEIVER_FIELD_MAP", json.dumps(FIXED_MAP))
    fixed = receiver_settings(kafka_bootstrap, topics, field_map=FIXED_MAP)
    async with running_receiver(fixed) as receiver:
        healed = await receiver.post(PATH, json=BODIES[0], headers=AUTH)
    assert healed.status_code == 200
    dry = await _cli(kafka_bootstrap, topics, "redrive", "--dry-run")
    assert (dry["dry_run"], dry["passed"], dry["already_present"], dry["still_failed"]) == (
        True, 2, 1, 0,
    )  # fmt: skip
    assert len(await read_topic(kafka_bootstrap, topics.product)) == 1  # dry run wrote nothing

    done = await _cli(kafka_bootstrap, topics, "redrive")
    assert (done["passed"], done["already_present"], done["still_failed"]) == (2, 1, 0)
    again = await _cli(kafka_bootstrap, topics, "redrive")
    assert (again["passed"], again["already_present"], again["still_failed"]) == (0, 3, 0)
    product = await read_topic(kafka_bootstrap, topics.product)
    assert len(product) == 3

    received = {d.request_id: d.received_at for d in refusals}
    async with running_projector(
        projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    ) as projector:
        items = await eventually(lambda: _when_all(projector))
        feed = (await projector.get("/v1/changes")).json()["changes"]
    for n, request_id in ((1, ids[1]), (2, ids[2])):
        assert datetime.fromisoformat(items[f"mug-{n}"]["received_at"]) == received[request_id]
        assert items[f"mug-{n}"]["revision"] == 1
    assert items["mug-1"]["current_price"] == "11.50"
    assert sorted(c["item_id"] for c in feed if c["kind"] == "item_added") == [
        "mug-0", "mug-1", "mug-2",
    ]  # fmt: skip
    on_topic = {e.catalog_item_id: e.received_at for e in (codec.decode(r.value) for r in product)}
    assert on_topic["mug-1"] == received[ids[1]]
    assert on_topic["mug-2"] == received[ids[2]]
    assert on_topic["mug-0"] > received[ids[0]]  # the platform's own retry, not the re-drive


async def _when_all(projector: httpx.AsyncClient) -> dict[str, Any] | None:
    items = await _items(projector)
    return items if len(items) == 3 else None


async def test_accept_mode_answers_200_and_publishes_only_on_redrive(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = receiver_settings(
        kafka_bootstrap, topics, field_map=OLD_MAP, invalid_answer="accept"
    )
    async with running_receiver(settings) as receiver:
        answer = await receiver.post(PATH, json=BODIES[0], headers=AUTH)
        repeat = await receiver.post(PATH, json=BODIES[0], headers=AUTH)
        too_large = await receiver.post(PATH, content=b"x" * 300_000, headers=AUTH)
    assert answer.status_code == repeat.status_code == 200
    assert too_large.status_code == 413  # not kept whole: accepting it would lose it
    receipt = answer.json()
    assert (receipt["dead_lettered"], receipt["published"], receipt["status"]) == (True, False, 422)
    assert answer.headers["X-Dead-Lettered"] == receipt["request_id"] == repeat.json()["request_id"]
    assert receipt["errors"] == [
        {"field": "CatalogItemId", "reason": "required but missing or empty"}
    ]
    assert await read_topic(kafka_bootstrap, topics.product) == []
    async with running_projector(
        projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    ) as projector:
        assert await _items(projector) == {}
        monkeypatch.setenv("CATALOG_RECEIVER_FIELD_MAP", json.dumps(FIXED_MAP))
        done = await _cli(kafka_bootstrap, topics, "redrive")
        assert done["passed"] == 1
        item = await eventually(
            lambda: _item(projector, "mug-0"), timeout_s=30
        )  # the view changes only now
    assert item["current_price"] == "10.50"


async def _item(projector: httpx.AsyncClient, item_id: str) -> dict[str, Any] | None:
    answer = await projector.get(f"/v1/catalogs/7/items/{item_id}")
    return answer.json() if answer.status_code == 200 else None


async def test_a_body_of_control_bytes_gets_a_record_kafka_accepts(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # 256 KiB of 0x01 was a ~1.6 MB JSON record that Kafka refused (answered 503 forever).
    body = b"\x01" * 262_144
    huge = b"\x02" * (3 * 1024 * 1024)
    settings = receiver_settings(kafka_bootstrap, topics, max_body_bytes=4 * 1024 * 1024)
    async with running_receiver(settings) as receiver:
        headers = {**AUTH, "Content-Type": "application/json"}
        control = await receiver.post(PATH, content=body, headers=headers)
        larger = await receiver.post(PATH, content=huge, headers=headers)
        # A partner who also put the credential in the URL, behind a proxy that authenticates.
        leaky = await receiver.get(
            f"{PATH}?CatalogId=7&token={SECRET}&Name=x%20{SECRET}",
            headers={**AUTH, "Proxy-Authorization": "Basic cHJveHk6cGFzcw=="},
        )
    assert (control.status_code, larger.status_code) == (400, 400), larger.text
    assert leaky.status_code == 422
    records = await read_topic(kafka_bootstrap, topics.dead_letter)
    kept = {d.request_id: d for d in (dead_letters.decode(r.value) for r in records)}
    small = kept[control.json()["request_id"]]
    assert (small.body, small.body_length, small.truncated) == (body, len(body), False)
    cut = kept[larger.json()["request_id"]]
    assert (cut.body_length, cut.truncated) == (len(huge), True)
    assert cut.body == huge[: len(cut.body)]
    assert len(cut.body) > 900_000
    redacted = kept[leaky.json()["request_id"]]
    assert SECRET not in repr(redacted)
    assert "cHJveHk6cGFzcw" not in repr(redacted)
    assert redacted.query == "CatalogId=7&token=[redacted]&Name=x%20[redacted]"


async def test_identical_refusals_arriving_together_are_written_once(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # The platform's catch-up burst after maintenance can send the same bad postback several
    # times at once: while the first record is being written, the others must wait for it and
    # be counted as its repeats, not each write a record of their own.
    settings = receiver_settings(kafka_bootstrap, topics, field_map=OLD_MAP)
    async with running_receiver(settings) as receiver:
        answers = await asyncio.gather(
            *(receiver.post(PATH, json=BODIES[1], headers=AUTH) for _ in range(20))
        )
        metrics = (await receiver.get("/metrics")).text
    assert {a.status_code for a in answers} == {422}
    assert len({a.json()["request_id"] for a in answers}) == 1
    assert "receiver_dead_letter_repeats_total 19.0" in metrics
    kept = [
        dead_letters.decode(r.value) for r in await read_topic(kafka_bootstrap, topics.dead_letter)
    ]
    assert [(d.repeat_of is None, d.repeats) for d in kept] == [(True, 0), (False, 19)]


async def test_bounds_past_the_end_or_before_1970_get_an_answer(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # `--until 0:1000000` on a shorter partition waited forever for offset 1,000,000; a time
    # before 1970 (or at year 1, +14:00) reached Kafka as a negative timestamp (a traceback).
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "catalog_stream.cli", "dead-letters", "summary", "--json",
        "--bootstrap-servers", kafka_bootstrap, "--topic", topics.dead_letter,
        "--until", "0:1000000",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), 90)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err
    assert json.loads(out)["records"] == 0
    code, _, message = await run_cli(
        "dead-letters", "summary", "--bootstrap-servers", kafka_bootstrap,
        "--topic", topics.dead_letter, "--from", "0001-01-01T00:00:00+14:00",
    )  # fmt: skip
    assert (code, message.strip()) == (
        2, "error: 0001-01-01T00:00:00+14:00 is before 1970-01-01, the start of Kafka's time",
    )  # fmt: skip
