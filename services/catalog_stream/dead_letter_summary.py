"""`catalog-stream dead-letters summary`: refused postbacks counted by status and kind, and by
field and problem, with their repeat tallies joined in; in bounded memory whatever the topic's
size. Pure: records in, text and dicts out.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from catalog_contract.dead_letters import DeadLetter
from catalog_stream.dead_letter_report import (
    Group,
    biggest_first,
    printable,
    problem_class,
    stamp,
)

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
                for (status, kind), group in sorted(self.by_status.items(), key=biggest_first)
            ],
            "by_field": [
                {"field": name, "problem": problem, **group.as_dict()}
                for (name, problem), group in sorted(self.by_field.items(), key=biggest_first)
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
            [((str(s), k), g) for (s, k), g in sorted(self.by_status.items(), key=biggest_first)],
        )
        out += ["", "by field and problem:"]
        out += _table(
            ("field", "problem"),
            [((f, p), g) for (f, p), g in sorted(self.by_field.items(), key=biggest_first)],
        )
        return out


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
