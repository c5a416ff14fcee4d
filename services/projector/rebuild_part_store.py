"""The file a split rebuild's worker (rebuild_split_worker.py) loads its part into, and what it
knows of it without asking it: which items it may hold. A part starts empty, and only its worker
writes its items and removal markers, all of them through `write`; so a key it never wrote has
nothing stored there, and is not read back. Read back where it may hold one, as the one-process
rebuild reads every key back. The keys written are kept in fixed-size filters (key_filter.py):
their memory is the same whatever the product count, and past a few million keys a part reads
back nearly every key again, as before them. Where its keys keep coming back (many versions of
each), a filter spares few reads for a hash of every key: it then steps aside (PayingKeyFilter)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from projector.batch import BatchPlan, ItemKey
from projector.item_state import ItemState, Removed
from projector.key_filter import BITS_LOG2, WINDOW, PayingKeyFilter
from projector.sqlite_store import SqliteStore


class PartStore(SqliteStore):
    """A part's file. A catalog whose items in this part's partitions all went keeps its row
    (counts 0, the newest item time this part saw): its items in other parts may have kept it
    from ever emptying in one process, whose row then holds that time too. Deleted, the time
    was lost in the merge (test_rebuild_split_catalog_time). The merge deletes the rows whose
    counts add up to none, as every batch of one process does."""

    def __init__(self, path: Path, bits_log2: int = BITS_LOG2, window: int = WINDOW) -> None:
        super().__init__(path)
        self._batch_write.drop_if_empty = "DELETE FROM catalogs WHERE catalog_id = ? AND 0"
        self._items = PayingKeyFilter(bits_log2, window)  # keys that may have an item row here
        self._markers = PayingKeyFilter(bits_log2, window)  # ... a removal marker here
        # What the file holds already (nothing, as a rebuild makes a part; read all the same,
        # so that no file gives a wrong "nothing stored").
        for keys, table in ((self._items, "items"), (self._markers, "removals")):
            stored = self._query(f"SELECT catalog_id, item_id FROM {table}")  # noqa: S608
            keys.add((str(c), str(i)) for c, i in stored)
        self.close()  # (this thread's connection: the worker's threads open their own)

    def load_items(
        self, keys: Iterable[ItemKey], chunk: int = 400
    ) -> dict[ItemKey, ItemState | Removed]:
        """As the file answers: a key never written is not asked for (nothing stored)."""
        keys = list(keys)
        return self.load_known(
            self._items.maybe_added(keys), self._markers.maybe_added(keys), chunk
        )

    def write(self, topic: str, plan: BatchPlan) -> None:
        # Noted before the write: one that fails leaves keys noted that the file does not hold
        # (a read back more), never a key held and not noted. Of the items, only those with no
        # item row before the batch (a superset of those it adds: maybe a "maybe" more): one
        # that had, read back or from the batch planned before, was noted when that row was
        # written. Where keys keep coming back, almost none is hashed again.
        self._items.add(k for k, was in plan.before.items() if not isinstance(was, ItemState))
        self._markers.add(k for k, s in plan.items.items() if isinstance(s, Removed))
        super().write(topic, plan)
