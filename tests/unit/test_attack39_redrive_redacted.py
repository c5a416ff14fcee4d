"""Attack (stop 39): a re-drive publishing the redaction marker (stop 38's limit).

A refused postback is kept without any configured secret: where one stood in the body or query,
the dead letter holds `[redacted]`. Re-driven (the template's map fixed, say), the request read
`[redacted]` as the data point's value and published it: a Description (or a price's text, an id)
that the platform never sent, under the event id of that wrong content. Failed before: judge
answered the event, its description `Lamp [redacted] shade`. Now a request whose kept text lost
a secret, and whose event would carry the marker, is not re-driven: the platform must send it
again. A kept request holding the marker where no value takes it is re-driven as before. No I/O.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import SecretStr

from catalog_contract.dead_letters import DeadLetter
from catalog_stream.dead_letter_commands import judge
from receiver.deadletter import REDACTED, dead_letter
from receiver.settings import ReceiverSettings

SECRET = "s3cret-token-0123456789"
AT = datetime(2026, 12, 2, 5, tzinfo=UTC)


def _kept(body: dict[str, str], query: str = "") -> DeadLetter:
    raw = json.dumps(body).encode()
    return dead_letter(
        request_id="r1", received_at=AT, method="POST", query=query,
        headers={"content-type": "application/json"}, secret_header="x-token", body=raw,
        status=422, reason="CatalogItemId: required but missing or empty", secrets=[SECRET],
    )  # fmt: skip


SETTINGS = ReceiverSettings(secrets=[SecretStr(SECRET)], field_map={"item": "CatalogItemId"})


def test_a_value_that_held_a_secret_is_not_re_driven() -> None:
    letter = _kept({"CatalogId": "7", "item": "a", "Description": f"Lamp {SECRET} shade"})
    assert f"Lamp {REDACTED} shade".encode() in letter.body
    change, reason = judge(letter, SETTINGS)
    assert change is None
    assert reason == (
        "Description holds '[redacted]', where a secret was taken out when the request was "
        "kept; the platform must send it again"
    )


def test_a_query_value_that_held_a_secret_is_not_re_driven() -> None:
    letter = _kept({"CatalogId": "7", "item": "a"}, query=f"Name={SECRET}")
    assert judge(letter, SETTINGS) == (
        None,
        "Name holds '[redacted]', where a secret was taken out when the request was kept; "
        "the platform must send it again",
    )


def test_a_secret_outside_the_values_leaves_the_request_re_drivable() -> None:
    letter = _kept({"CatalogId": "7", "item": "a", "token": SECRET, "Name": "Lamp"})
    change, reason = judge(letter, SETTINGS)
    assert reason is None
    assert change is not None
    assert (change.catalog_item_id, change.name) == ("a", "Lamp")
