"""What `catalog-stream dead-letters` says: a summary of refused postbacks, one record in full,
and a re-drive's outcome, as terminal text or JSON. Pure: records in, text and dicts out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import OrderedDict
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


JOIN_LIMIT = 100_000
"""Records (and early tallies) remembered to join a repeat tally to its record's groups: a tally
follows its record by about the repeat window, so this covers 100,000 refusals an hour at
~300 bytes each; a tally whose record was forgotten counts under its status only."""
GROUP_LIMIT = 1_000
"""Rows per table; further kinds of problem are counted in one "other" row."""
_OUTSIDE = "repeats of a record outside the range"


@dataclass
class Summary:
    """Counts by status and kind, and by field and problem. A repeat tally adds its repeats to
    the groups of the record it counts (or, when that record is outside the range or no longer
    remembered, to a group of its own). Memory is bounded whatever the topic's size."""

    total: Group = field(default_factory=Group)
    by_status: dict[tuple[int, str], Group] = field(default_factory=dict)
    by_field: dict[tuple[str, str], Group] = field(default_factory=dict)
    unreadable: int = 0
    join_limit: int = JOIN_LIMIT
    group_limit: int = GROUP_LIMIT
    _groups_of: OrderedDict[str, list[Group]] = field(default_factory=OrderedDict)
    _early: OrderedDict[str, list[DeadLetter]] = field(default_factory=OrderedDict)

    def _group(self, table: dict[Any, Group], key: Any, other: Any) -> Group:
        found = table.get(key)
        if found is None:
            found = table.setdefault(key if len(table) < self.group_limit else other, Group())
        return found

    def add(self, letter: DeadLetter) -> None:
        if letter.repeat_of is not None:
            groups = self._groups_of.get(letter.repeat_of)
            if groups is not None:
                self._count_repeats(letter, groups)
            else:  # its record may come later (another partition)
                self._early.setdefault(letter.repeat_of, []).append(letter)
                while len(self._early) > self.join_limit:
                    for tally in self._early.popitem(last=False)[1]:
                        self._count_repeats(tally, None)
            return
        other_status = (letter.status, "other kinds")
        other_field = ("…", f"other problems (more than {self.group_limit} kinds)")
        groups = [
            self.total,
            self._group(self.by_status, (letter.status, letter.kind), other_status),
        ]
        for name, reason in letter.problems or ((("-", problem_class(letter.reason)),)):
            groups.append(self._group(self.by_field, (name, problem_class(reason)), other_field))
        unique = list({id(group): group for group in groups}.values())  # two problems, one row
        for group in unique:
            group.add(letter)
        self._groups_of[letter.request_id] = unique
        while len(self._groups_of) > self.join_limit:
            self._groups_of.popitem(last=False)
        for tally in self._early.pop(letter.request_id, ()):
            self._count_repeats(tally, unique)

    def _count_repeats(self, tally: DeadLetter, groups: list[Group] | None) -> None:
        if groups is None:
            outside = self._group(
                self.by_status, (tally.status, _OUTSIDE), (tally.status, "other kinds")
            )
            groups = [self.total, outside]
        for group in groups:
            group.repeats += tally.repeats
            if tally.last_seen_at is not None:
                group.seen(tally.last_seen_at)

    def finish(self) -> Summary:
        """Count the tallies whose record never came (call once, after the last add)."""
        for tallies in self._early.values():
            for tally in tallies:
                self._count_repeats(tally, None)
        self._early.clear()
        self._groups_of.clear()
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.total.as_dict(),
            "unreadable": self.unreadable,
            "by_status": [
                {"status": status, "kind": kind, **group.as_dict()}
                for (status, kind), group in sorted(self.by_status.items(), key=_biggest)
            ],
            "by_field": [
                {"field": name, "problem": problem, **group.as_dict()}
                for (name, problem), group in sorted(self.by_field.items(), key=_biggest)
            ],
        }

    def lines(self) -> list[str]:
        return [printable(line) for line in self._lines()]

    def _lines(self) -> list[str]:
        t = self.total
        out = [
            f"{t.records} dead letters, {t.repeats} identical repeats not written again; "
            f"first {stamp(t.first_seen)}, last {stamp(t.last_seen)}"
            + (f"; {self.unreadable} unreadable records" if self.unreadable else "")
        ]
        if not t.records and not t.repeats:
            return out
        out += ["", "by status and kind:"]
        out += _table(
            ("status", "kind"),
            [((str(s), k), g) for (s, k), g in sorted(self.by_status.items(), key=_biggest)],
        )
        out += ["", "by field and problem:"]
        out += _table(
            ("field", "problem"),
            [((f, p), g) for (f, p), g in sorted(self.by_field.items(), key=_biggest)],
        )
        return out


def _biggest(item: tuple[Any, Group]) -> tuple[int, str]:
    key, group = item
    return (-(group.records + group.repeats), str(key))


def _table(names: tuple[str, str], rows: list[tuple[tuple[str, str], Group]]) -> list[str]:
    header = [*names, "records", "repeats", "first seen", "last seen", "examples"]
    cells = [
        [
            a,
            b,
            str(g.records),
            str(g.repeats),
            stamp(g.first_seen),
            stamp(g.last_seen),
            " ".join(g.examples),
        ]
        for (a, b), g in rows
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header) - 1)]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  " + row[-1]
        for row in [header, *cells]
    ]  # fmt: skip


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
                for reason, group in sorted(self.still_failed.items(), key=_biggest)
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
        for reason, group in sorted(self.still_failed.items(), key=_biggest):
            out.append(f"    {group.records:>6}  {reason}  (e.g. {' '.join(group.examples)})")
        return out
