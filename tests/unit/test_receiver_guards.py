"""Authentication, address checks, the repeat window and the dead-letter record. No I/O."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network

from pydantic import SecretStr

from catalog_contract import dead_letters
from receiver.auth import address_allowed, client_address, secret_matches
from receiver.deadletter import dead_letter_record
from receiver.errors import FieldProblem
from receiver.recent import LastWrites, RecentWindow

SECRETS = [SecretStr("old-secret-0123456789"), SecretStr("new-secret-0123456789")]


def test_any_configured_secret_is_accepted_so_rotation_needs_no_downtime() -> None:
    assert secret_matches(b"old-secret-0123456789", SECRETS)
    assert secret_matches(b"new-secret-0123456789", SECRETS)
    assert not secret_matches(b"new-secret-012345678", SECRETS)
    assert not secret_matches(b"", SECRETS)
    assert not secret_matches(None, SECRETS)


def test_a_non_ascii_secret_matches_the_bytes_sent() -> None:
    secret = "geheim-schlüssel-ßü-0123"
    assert secret_matches(secret.encode("utf-8"), [SecretStr(secret)])
    assert not secret_matches(secret.encode("latin-1"), [SecretStr(secret)])


def test_forwarded_for_is_honoured_only_from_trusted_proxies() -> None:
    proxies = [ip_network("10.0.0.0/8")]
    # From a trusted proxy: the right-most untrusted hop is the caller.
    assert client_address("10.0.0.5", ["203.0.113.9, 10.0.0.7"], proxies) == ip_address(
        "203.0.113.9"
    )
    # From anyone else: the header is ignored (it could be forged).
    assert client_address("198.51.100.1", ["203.0.113.9"], proxies) == ip_address("198.51.100.1")
    assert client_address("198.51.100.1", [], []) == ip_address("198.51.100.1")


def test_forwarded_for_reads_every_header_line_right_to_left() -> None:
    proxies = [ip_network("10.0.0.0/8")]
    # The client wrote the first line claiming an allowed address; the proxy appended the
    # client's real address on a second line. The right-most untrusted entry is the real one.
    lines = ["203.0.113.9", "198.51.100.66"]
    assert client_address("10.0.0.5", lines, proxies) == ip_address("198.51.100.66")
    assert client_address("10.0.0.5", ["203.0.113.9", "10.0.0.7"], proxies) == ip_address(
        "203.0.113.9"
    )
    # A hop that is not an address ends the walk: no address, which no allow-list admits.
    assert client_address("10.0.0.5", ["203.0.113.9", "junk"], proxies) is None


def test_allow_list_of_networks() -> None:
    allowed = [ip_network("203.0.113.0/24")]
    assert address_allowed(ip_address("203.0.113.77"), allowed)
    assert not address_allowed(ip_address("198.51.100.1"), allowed)
    assert not address_allowed(None, allowed)
    assert address_allowed(ip_address("198.51.100.1"), [])  # no list: everyone


def test_recent_window_forgets_after_ttl_and_beyond_size() -> None:
    window: RecentWindow[str] = RecentWindow(ttl_s=10, max_entries=2)
    window.put(b"a", "A", now=0)
    assert window.get(b"a", now=5) == "A"
    assert window.get(b"a", now=11) is None
    window.put(b"b", "B", now=20)
    window.put(b"c", "C", now=20)
    window.put(b"d", "D", now=20)
    assert window.get(b"b", now=20) is None
    assert len(window) == 2


def test_answers_kept_in_the_window_cost_the_garbage_collector_nothing() -> None:
    # Tens of thousands stay in the window: tracked objects would be scanned by every full
    # collection (a window of objects took ~30% of the receiver's CPU under load).
    window: RecentWindow[bytes] = RecentWindow(ttl_s=10, max_entries=2)
    window.put(b"event-id", b'{"offset":1234}', now=0)
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in vars(window)["_entries"].values())


def test_dead_letter_record_keeps_the_request_but_never_the_secret() -> None:
    record = dead_letters.decode(
        dead_letter_record(
            request_id="r1",
            received_at=datetime(2026, 1, 1, tzinfo=UTC),
            method="POST",
            query="",
            headers={
                "content-type": "application/json",
                "x-postback-token": "s3cret",
                "authorization": "Basic czNjcmV0",
                "user-agent": "p",
            },
            secret_header="X-Postback-Token",
            body=b'{"CurrentPrice": "cheap"}',
            status=422,
            reason="CurrentPrice: not a decimal price",
            problems=[FieldProblem("CurrentPrice", "not a decimal price")],
            kind="invalid-postback",
        )
    )
    assert record.body == b'{"CurrentPrice": "cheap"}'
    assert record.headers == (("content-type", "application/json"), ("user-agent", "p"))
    assert record.content_type == "application/json"
    assert record.problems == (("CurrentPrice", "not a decimal price"),)
    assert (record.status, record.kind, record.body_length) == (422, "invalid-postback", 25)
    binary = dead_letters.decode(
        dead_letter_record(
            request_id="r2", received_at=datetime(2026, 1, 1, tzinfo=UTC), method="POST",
            query="", headers={}, secret_header="X", body=b"\xff\xfe", status=400, reason="x",
        )
    )  # fmt: skip
    assert (binary.body, binary.content_type) == (b"\xff\xfe", None)


def test_a_repeat_is_answered_from_memory_only_while_nothing_newer_was_written() -> None:
    writes = LastWrites(ttl_s=10, max_entries=10)
    writes.written(b"p", b"removal", (0, 1), b"answer-1", now=0)
    assert writes.answer_for(b"p", b"removal", now=1) == b"answer-1"
    writes.written(b"p", b"re-add", (0, 3), b"answer-3", now=2)
    assert writes.answer_for(b"p", b"removal", now=3) is None  # a real change again
    assert writes.answer_for(b"p", b"re-add", now=3) == b"answer-3"
    # A write that finished late but landed earlier on the topic does not take over.
    writes.written(b"p", b"removal", (0, 2), b"answer-2", now=4)
    assert writes.answer_for(b"p", b"removal", now=5) is None
    assert writes.answer_for(b"q", b"removal", now=5) is None
    assert writes.answer_for(b"p", b"re-add", now=20) is None  # forgotten after the ttl
