"""Coverage-guided fuzzing (atheris, libFuzzer) of what the receiver does with a request's bytes.

Whatever the method, content type, query and body, exactly one of two things happens, each in
bounded time (libFuzzer's `-timeout`):
- an event, which the contract writes (`product_records`) and reads back (`codec.decode`)
  unchanged, and which the same request makes again with the same id;
- a refusal the receiver answers (UnreadableBody: 400/415, InvalidPostback: 422) as problem+json,
  and keeps as a dead letter that decodes, and holds the configured secret nowhere.
Any other exception would reach the server as a 500: the fuzzer stops on it with the input.

Run by tests/unit/test_fuzzing.py (a bounded run from a fixed seed) and `make fuzz` (longer).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import atheris

from tests.fuzz.intake_inputs import SECRET, request

with atheris.instrument_imports(include=["receiver", "catalog_contract"]):
    from catalog_contract import codec, dead_letters
    from catalog_contract.writing import product_records
    from receiver.deadletter import dead_letter
    from receiver.errors import InvalidPostback, UnreadableBody
    from receiver.intake import change_from_request, query_text
    from runtime_support.problems import problem

RECEIVED_AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_one_input(data: bytes) -> None:
    method, content_type, raw_query, body, field_map = request(data)
    query = query_text(raw_query)
    try:
        change = change_from_request(
            method, content_type, query, body, RECEIVED_AT, field_map, timedelta(days=1)
        )
    except UnreadableBody as exc:
        refused(method, content_type, query, body, exc.status, exc.reason, None)
        return
    except InvalidPostback as exc:
        refused(method, content_type, query, body, 422, str(exc), exc)
        return
    again = change_from_request(
        method, content_type, query, body, RECEIVED_AT, field_map, timedelta(days=1)
    )
    assert again.event_id == change.event_id, "one request, two event ids"
    records = product_records(change)
    value = records.values[0]
    assert value is not None
    assert codec.decode(value) == change, "the topic's record does not read back as the event"


def refused(
    method: str,
    content_type: str | None,
    query: str,
    body: bytes,
    status: int,
    reason: str,
    exc: InvalidPostback | None,
) -> None:
    problems = exc.problems if exc else None
    problem(status, "refused", "Refused", reason, errors=problems)  # renders: raises if it cannot
    headers = {"content-type": content_type} if content_type else {}
    letter = dead_letter(
        request_id="fuzz",
        received_at=RECEIVED_AT,
        method=method,
        query=query,
        headers=headers,
        secret_header="x-postback-secret",
        body=body,
        status=status,
        reason=reason,
        problems=problems,
        secrets=(SECRET,),
    )
    kept = dead_letters.decode(dead_letters.encode(letter))
    assert kept == letter, "the dead letter does not read back"
    for text in (kept.query, kept.reason, *(r for _, r in kept.problems)):
        assert SECRET not in text, "the secret is kept in a dead letter"
    assert SECRET.encode() not in kept.body, "the secret is kept in a dead letter's body"


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
