"""How a new generation of the views takes over from the one it replaces, at a rebuild's switch:
its change feed continues the older one's (numbers kept, its own changes numbered after them),
and it owes what the older one owed. A mixin of `ViewStore` (store.py), written over its
transaction, query and write statements, so the same SQL serves SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from projector.item_fold import price_text
from projector.item_state import ChangeKind
from projector.rows import price_from_units
from projector.store_reads import FEED_COLUMNS as _FEED_COLUMNS
from projector.store_reads import FEED_Q as _FEED_Q
from projector.store_write import BatchWrite

# Where a change no record says is placed (a dropped item's removal: _say_dropped).
DROPPED_AT = (-1, -1)

if TYPE_CHECKING:
    from projector.store import ViewStore


class GenerationHandover(ABC):
    _write_lock: threading.Lock
    _batch_write: BatchWrite

    @abstractmethod
    def _sql(self, statement: str) -> str: ...

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def continue_owed_of(self, older: ViewStore) -> None:
        """Owe what `older` owed too (a rebuild's switch: its builder restated only records the
        live consumer had not kept, so a write that consumer failed is still owed). One this
        generation owes already stays as it is; one it judged again since is then written once
        more, which its position rule makes harmless."""
        columns = 'catalog_id, item_id, "partition", "offset"'
        with self._write_lock, self._reading(older) as source, self._transaction() as cursor:
            self._handover_limits(cursor)
            if source is not None:  # read in this transaction: under its lock limits
                cursor.execute(f"SELECT {columns} FROM {source}.owed_restatements")
                owed = cursor.fetchall()
            else:
                owed = older._query(f"SELECT {columns} FROM owed_restatements")
            cursor.executemany(self._batch_write.owe_unless_owed, owed)

    overriding = ""  # what lets an INSERT name an identity column's value, where needed

    def _handover_limits(self, cursor: Any) -> None:  # noqa: B027 (a hook: PostgreSQL only)
        """Bound the handover's waits for locks: on PostgreSQL it runs under the pointer row
        every instance's batches wait for (generations_held.HANDOVER_LOCK_WAIT_MS)."""

    def _feed_sequence_follows(self, cursor: Any) -> None:  # noqa: B027 (a hook: PostgreSQL only)
        """After explicit sequence numbers were inserted, the next one must come after them
        (SQLite's AUTOINCREMENT already does)."""

    def continue_feed_of(
        self,
        older: ViewStore,
        older_next: dict[int, int],
        chunk: int = 10_000,
        say_dropped: bool = False,
    ) -> int:
        """Make this new generation's feed continue `older`'s: its changes with their numbers,
        then this generation's own changes of records `older` had not applied (offsets from
        `older_next`), numbered after them. `say_dropped`: then an `item_removed` for each item
        `older` holds and this one does not (_say_dropped); returns how many."""
        columns = ", ".join(f'"{c}"' for c in _FEED_COLUMNS[1:])
        with self._write_lock, self._reading(older) as source, self._transaction() as cursor:
            self._handover_limits(cursor)
            for partition, next_offset in older_next.items():
                cursor.execute(
                    self._sql('DELETE FROM changes WHERE "partition" = ? AND "offset" < ?'),
                    (partition, next_offset),
                )
            if source is not None:  # read in this transaction: under its lock limits
                cursor.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {source}.changes")
                older_head = int(cursor.fetchone()[0])
            else:
                older_head = int(older._query("SELECT COALESCE(MAX(seq), 0) FROM changes")[0][0])
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM changes")
            own_head = int(cursor.fetchone()[0])
            # Move this generation's own changes past every number the older feed used (the
            # shift clears both ranges, so no row ever collides with another on the way).
            cursor.execute(
                self._sql(
                    f"INSERT INTO changes (seq, {columns}){self.overriding} "
                    f"SELECT seq + ?, {columns} FROM changes WHERE seq <= ?"
                ),
                (older_head + own_head, own_head),
            )
            cursor.execute(self._sql("DELETE FROM changes WHERE seq <= ?"), (own_head,))
            if source is not None:  # the database copies it itself: no row through Python
                cursor.execute(
                    f"INSERT INTO changes ({_FEED_Q}){self.overriding} "
                    f"SELECT {_FEED_Q} FROM {source}.changes ORDER BY seq"
                )
            else:
                self._copy_feed_paged(cursor, older, chunk)
            self._feed_sequence_follows(cursor)
            return self._say_dropped(cursor, older, source, chunk, older_head) if say_dropped else 0

    def _copy_feed_paged(self, cursor: Any, older: ViewStore, chunk: int) -> None:
        insert = self._sql(
            f"INSERT INTO changes ({_FEED_Q}){self.overriding} "
            f"VALUES ({', '.join('?' for _ in _FEED_COLUMNS)})"
        )
        after = 0
        while True:
            page = older._query(
                f"SELECT {_FEED_Q} FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                [after, chunk],
            )
            if not page:
                break
            cursor.executemany(insert, page)
            after = int(page[-1][0])

    def _say_dropped(
        self, cursor: Any, older: ViewStore, source: str | None, chunk: int, older_head: int
    ) -> int:
        """An `item_removed` for each item `older` holds and this generation does not, in item
        order after every other change: a rebuild of a recreated topic (topic_behind) dropped
        them, and a client following the feed across the switch would keep them for good. No
        record says it: event_id null, partition and offset -1 (DROPPED_AT). But for one whose
        removal this generation's own changes (numbered past `older_head`) say already: a
        record past `older`'s positions, which only the builder applied, removed it."""
        removed = ChangeKind.ITEM_REMOVED.value
        cursor.execute(
            self._sql("SELECT catalog_id, item_id FROM changes WHERE seq > ? AND kind = ?"),
            (older_head, removed),
        )
        said = {(str(c), str(i)) for c, i in cursor.fetchall()}
        # A page at a time (a topic recreated empty drops every item: all of them at once held
        # the whole catalog in this process, under the held pointer).
        count, last = 0, ("", "")
        while True:
            gone, last_read = self._dropped_page(cursor, older, source, last, chunk)
            gone = [row for row in gone if (row[0], row[1]) not in said]
            self._batch_write.add_changes(cursor, [
                (removed, c, i, price_text(price_from_units(p)), None, None, *DROPPED_AT)
                for c, i, p in gone
            ])  # fmt: skip
            count += len(gone)
            if last_read is None:
                return count
            last = last_read

    def _dropped_page(
        self, cursor: Any, older: ViewStore, source: str | None, last: tuple[str, str], chunk: int
    ) -> tuple[list[tuple[Any, ...]], tuple[str, str] | None]:
        """Items after `last` (item order) `older` holds and this generation does not: up to
        `chunk` of them (read in the database), or those among `older`'s next `chunk` items
        (through Python); and the last item read, None once there are no more."""
        after = "(o.catalog_id, o.item_id) > (?, ?)"
        if source is not None:
            cursor.execute(
                self._sql(
                    f"SELECT o.catalog_id, o.item_id, o.current_price FROM {source}.items o "
                    f"WHERE {after} AND NOT EXISTS (SELECT 1 FROM items n "
                    "WHERE n.catalog_id = o.catalog_id AND n.item_id = o.item_id) "
                    "ORDER BY o.catalog_id, o.item_id LIMIT ?"
                ),
                (*last, chunk),
            )
            gone = cursor.fetchall()
            return gone, (gone[-1][0], gone[-1][1]) if len(gone) == chunk else None
        page = older._query(
            f"SELECT o.catalog_id, o.item_id, o.current_price FROM items o WHERE {after} "
            "ORDER BY o.catalog_id, o.item_id LIMIT ?",
            [*last, chunk],
        )
        here = self._sql("SELECT 1 FROM items WHERE catalog_id = ? AND item_id = ?")
        gone = []
        for row in page:
            cursor.execute(here, row[:2])
            if cursor.fetchone() is None:
                gone.append(row)
        return gone, (page[-1][0], page[-1][1]) if len(page) == chunk else None

    @contextmanager
    def _reading(self, older: ViewStore) -> Iterator[str | None]:
        """`older`'s tables as this store's writer connection names them (`<name>.changes`), if
        it can read them in its own statements; else None (copied page by page)."""
        yield None
