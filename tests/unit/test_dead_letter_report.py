"""What `catalog-stream dead-letters` reports, and how a re-drive judges a stored request."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from pydantic import SecretStr

from catalog_contract.dead_letters import fit
from catalog_stream.dead_letter_commands import judge
from catalog_stream.dead_letter_report import (
    RedriveReport,
    problem_class,
    render,
    show_dict,
    show_lines,
)
from catalog_stream.dead_letter_summary import Summary
from receiver.intake import change_from_request
from receiver.settings import ReceiverSettings
from tests.factories import BODY_REFUSAL as BROKEN
from tests.factories import DEAD_LETTER_AT as AT
from tests.factories import PRICE_REFUSAL as PRICE
from tests.factories import repeat_tally as _tally


def test_problem_class_drops_the_quoted_values() -> None:
    assert problem_class("not a decimal price: '12,99 €' (expected e.g. '12.99')") == (
        "not a decimal price: … (expected e.g. …)"
    )
    assert problem_class('unknown change type "x\\"y"') == "unknown change type …"
    assert problem_class("required but missing or empty") == "required but missing or empty"
    assert len(problem_class("x" * 500)) == 80


def test_show_has_the_whole_request_and_its_repeats() -> None:
    cut = replace(PRICE, body=b"\x01\xff", body_length=300_000)
    d = show_dict(cut, [_tally("r1", 3, 10), _tally("r1", 2, 20)])
    assert (d["repeats"], d["last_repeat_at"], d["body"]) == (
        5,
        "2026-11-28T09:20:00Z",
        "\x01\\xff",
    )
    lines = show_lines(cut, [])
    assert lines[:4] == [
        "request id   r1",
        "received at  2026-11-28T09:00:00Z",
        "refused      422 invalid-postback: CurrentPrice: not a decimal price: '12,99 €'",
        "  CurrentPrice: not a decimal price: '12,99 €' (expected e.g. '12.99')",
    ]
    assert "body (first 2 of 300000 bytes kept)" in lines


def test_redrive_report_counts_and_groups_failures() -> None:
    report = RedriveReport(dry_run=True, read=4, tallies=1)
    report.published.add(PRICE)
    report.already_present.add(PRICE)
    report.failed(BROKEN, BROKEN.reason)
    report.failed(replace(BROKEN, request_id="r4"), BROKEN.reason)
    assert report.as_dict()["still_failed_by_reason"][0]["examples"] == ["r3", "r4"]
    assert report.lines() == [
        "4 dead letters read (1 repeat tallies skipped)",
        "  passed now:           1  would be published (dry run: nothing written)",
        "  already present:      1  (their event is on the product topic: nothing written)",
        "  still failed:         2",
        "         2  body is not valid JSON: Expecting property name enclosed in double quotes"
        "  (e.g. r3 r4)",
    ]


def test_judge_uses_the_current_map_and_keeps_the_receive_time() -> None:
    templated = replace(
        PRICE, body=b'{"catalog": "7", "item": "a", "price": "12.99"}', body_length=47
    )
    old = ReceiverSettings(secrets=[SecretStr("x" * 16)], field_map={"catalog": "CatalogId"})
    change, reason = judge(templated, old)
    assert (change, reason) == (None, "CatalogItemId: required but missing or empty")
    fixed = old.model_copy(
        update={
            "field_map": {"catalog": "CatalogId", "item": "CatalogItemId", "price": "CurrentPrice"}
        }
    )
    change, reason = judge(templated, fixed)
    assert reason is None
    assert change is not None
    assert (change.catalog_item_id, str(change.current_price), change.received_at) == (
        "a", "12.9900", AT,
    )  # fmt: skip
    # The same event (id) the HTTP path makes of this request today.
    live = change_from_request(
        "POST", "application/json", "", templated.body, AT + timedelta(days=1), fixed.field_map
    )
    assert live.event_id == change.event_id
    truncated = replace(templated, body_length=1_000_000)
    assert judge(truncated, fixed)[1] == (
        "body was cut to 47 of 1000000 bytes when kept; the platform must send it again"
    )


def test_a_get_whose_query_was_cut_when_kept_is_never_re_driven_nor_accepted() -> None:
    # A GET's data points are its query: when the query is cut to fit the topic, the last data
    # point ends in the truncation marker. Re-driving that would publish a wrong Description
    # (and accept mode would have answered 200 for a postback it could not keep whole).
    query = "CatalogId=7&CatalogItemId=a&Description=" + "x" * 1_200_000
    letter = fit(replace(PRICE, method="GET", query=query, body=b"", body_length=0))
    marker = "… [truncated: 1200040 bytes]"
    assert letter.query.endswith(marker)
    assert letter.truncated
    kept = len(letter.query.encode()) - len(marker.encode())
    assert letter.query_cut == (kept, 1_200_040)
    settings = ReceiverSettings(secrets=[SecretStr("x" * 16)])
    assert judge(letter, settings) == (
        None,
        f"query was cut to {kept} of 1200040 bytes when kept; the platform must send it again",
    )
    # A query that was kept whole is not "cut", whatever it holds.
    assert not replace(letter, query="Description=%E2%80%A6+[truncated:+1+bytes]").truncated


def test_terminal_text_never_carries_the_requests_control_characters() -> None:
    # A hostile body, header or query must not drive the operator's terminal: clear the screen,
    # set the clipboard (OSC 52), rewrite a line with a carriage return, or reverse text (bidi).
    hostile = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\r\u202eevil\x9b"
    letter = replace(
        PRICE,
        request_id="r\x1b[31m",
        body=f'{{"Name": "{hostile}"}}\nline 2'.encode(),
        body_length=0,
        headers=(("user-agent", hostile),),
        query="a=" + hostile,
        reason="bad: " + hostile,
        problems=(("Name", hostile),),
    )
    letter = replace(letter, body_length=len(letter.body))
    summary = Summary()
    summary.add(letter)
    report = RedriveReport(dry_run=True)
    report.failed(letter, letter.reason)
    text = "\n".join([*show_lines(letter, []), *summary.finish().lines(), *report.lines()])
    for control in ("\x1b", "\x07", "\r", "\u202e", "\x9b"):
        assert control not in text
    assert '{"Name": "\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\x0d\\u202eevil\\x9b"}' in text
    assert "line 2" in text.splitlines()  # the body's own new lines stay readable


def test_json_output_escapes_what_json_itself_leaves_raw() -> None:
    # json.dumps(ensure_ascii=False) escapes only C0 controls: C1 (CSI \x9b) and bidi overrides
    # went raw to the terminal in --json output.
    data = {"reason": "bad \x9b2J \u202eevil \x1b[0m, 12,99 €"}
    text = render(data, [], as_json=True)
    for control in ("\x1b", "\x9b", "\u202e"):
        assert control not in text
    assert json.loads(text) == data  # still the same JSON
    assert render(data, ["a\x1bb"], as_json=False) == "a\\x1bb"
