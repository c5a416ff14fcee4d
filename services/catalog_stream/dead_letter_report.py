"""What `catalog-stream dead-letters` says of one record in full and of a re-drive's outcome,
as terminal text or JSON, and the groups and text helpers its summary (dead_letter_summary)
shares. Pure: records in, text and dicts out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog_contract.dead_letters import DeadLetter

EXAMPLES = 3
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def printable(line: str) -> str:
    """`line` safe to print on a terminal: control and format characters from a request (escape
    sequences, carriage returns, bidi overrides) become their escape, so a hostile body or
    header cannot drive the operator's terminal. New lines and tabs stay."""
    if line.isprintable():
        return line
    return "".join(
        c if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf") else _escape(c)
        for c in line
    )


def render(data: dict[str, Any], lines: list[str], as_json: bool) -> str:
    """What a command prints: its JSON (every control, format and non-ASCII character escaped:
    json leaves C1 controls and bidi overrides raw) or its already printable text lines."""
    if as_json:
        return json.dumps(data, ensure_ascii=True, indent=2)
    return "\n".join(printable(line) for line in lines)


def _escape(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def problem_class(reason: str) -> str:
    """A reason without the values it quotes, so refusals of one kind group together:
    "not a decimal price: '12,99 €'" -> "not a decimal price: …"."""
    text = _QUOTED.sub("…", reason)
    return text if len(text) <= 80 else text[:79] + "…"


def stamp(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Group:
    records: int = 0
    repeats: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    examples: list[str] = field(default_factory=list)

    def seen(self, moment: datetime) -> None:
        self.first_seen = moment if self.first_seen is None else min(self.first_seen, moment)
        self.last_seen = moment if self.last_seen is None else max(self.last_seen, moment)

    def add(self, letter: DeadLetter) -> None:
        self.records += 1
        self.seen(letter.received_at)
        if len(self.examples) < EXAMPLES:
            self.examples.append(letter.request_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "repeats": self.repeats,
            "first_seen": stamp(self.first_seen),
            "last_seen": stamp(self.last_seen),
            "examples": self.examples,
        }


def biggest_first(item: tuple[Any, Group]) -> tuple[int, str]:
    """Sort key of a table's rows: most records and repeats first, then by key."""
    key, group = item
    return (-(group.records + group.repeats), str(key))


def body_text(body: bytes) -> str:
    """The body as received: its text when UTF-8, else with undecodable bytes escaped (\\xNN)."""
    return body.decode("utf-8", "backslashreplace")


def show_dict(letter: DeadLetter, tallies: Iterable[DeadLetter]) -> dict[str, Any]:
    counted = list(tallies)
    return {
        "request_id": letter.request_id,
        "received_at": stamp(letter.received_at),
        "status": letter.status,
        "kind": letter.kind,
        "reason": letter.reason,
        "problems": [{"field": f, "reason": r} for f, r in letter.problems],
        "repeats": sum(t.repeats for t in counted),
        "last_repeat_at": stamp(max((t.last_seen_at for t in counted if t.last_seen_at),
                                    default=None)),
        "method": letter.method,
        "query": letter.query,
        "headers": [[n, v] for n, v in letter.headers],
        "credential": "not kept (credential headers and query parameters, secrets: never stored)",
        "body": body_text(letter.body),
        "body_length": letter.body_length,
        "body_truncated": letter.truncated,
    }  # fmt: skip


def show_lines(letter: DeadLetter, tallies: Iterable[DeadLetter]) -> list[str]:
    return [printable(line) for line in _show_lines(letter, tallies)]


def _show_lines(letter: DeadLetter, tallies: Iterable[DeadLetter]) -> list[str]:
    d = show_dict(letter, tallies)
    kept = f"{len(letter.body)} bytes"
    if letter.truncated:
        kept = f"first {len(letter.body)} of {letter.body_length} bytes kept"
    out = [
        f"request id   {d['request_id']}",
        f"received at  {d['received_at']}",
        f"refused      {d['status']} {d['kind']}: {d['reason']}",
    ]
    out += [f"  {p['field']}: {p['reason']}" for p in d["problems"]]
    if d["repeats"]:
        out.append(
            f"repeats      {d['repeats']} identical, not written again (last {d['last_repeat_at']})"
        )
    out += [
        f"request      {d['method']} {('?' + d['query']) if d['query'] else ''}".rstrip(),
        "headers",
    ]
    out += [f"  {name}: {value}" for name, value in d["headers"]]
    out += [f"  (credential: {d['credential']})", f"body ({kept})", d["body"]]
    return out  # fmt: skip


@dataclass
class RedriveReport:
    """A re-drive's outcome: records that pass today's parsing, mapping and validation and were
    published (or, in a dry run, would be), those whose event is already on the product topic,
    and those that still fail, grouped by why."""

    dry_run: bool
    read: int = 0
    tallies: int = 0
    unreadable: int = 0
    published: Group = field(default_factory=Group)
    already_present: Group = field(default_factory=Group)
    still_failed: dict[str, Group] = field(default_factory=dict)

    def failed(self, letter: DeadLetter, reason: str) -> None:
        self.still_failed.setdefault(problem_class(reason), Group()).add(letter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "read": self.read,
            "repeat_tallies_skipped": self.tallies,
            "unreadable": self.unreadable,
            "passed": self.published.records,
            "passed_examples": self.published.examples,
            "already_present": self.already_present.records,
            "still_failed": sum(g.records for g in self.still_failed.values()),
            "still_failed_by_reason": [
                {"reason": reason, **group.as_dict()}
                for reason, group in sorted(self.still_failed.items(), key=biggest_first)
            ],
        }

    def lines(self) -> list[str]:
        return [printable(line) for line in self._lines()]

    def _lines(self) -> list[str]:
        verb = "would be published (dry run: nothing written)" if self.dry_run else "published"
        failed = sum(g.records for g in self.still_failed.values())
        out = [
            f"{self.read} dead letters read ({self.tallies} repeat tallies skipped"
            + (f", {self.unreadable} unreadable" if self.unreadable else "")
            + ")",
            f"  passed now:      {self.published.records:>6}  {verb}",
            f"  already present: {self.already_present.records:>6}  (their event is on the "
            "product topic: nothing written)",
            f"  still failed:    {failed:>6}",
        ]
        for reason, group in sorted(self.still_failed.items(), key=biggest_first):
            out.append(f"    {group.records:>6}  {reason}  (e.g. {' '.join(group.examples)})")
        return out
