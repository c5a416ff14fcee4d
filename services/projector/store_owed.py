"""The restatements a generation owes (restatements_owed.py says what a debt is), as the store
reads and settles them. A mixin of `ViewStore` (store.py), written over its query and transaction,
so the same SQL serves SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from projector.batch import ItemKey
from projector.item_state import Position
from projector.store_write import BatchWrite

_OWED_Q = 'catalog_id, item_id, "partition", "offset"'


class OwedRestatements(ABC):
    _write_lock: threading.Lock
    _batch_write: BatchWrite

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def owed_restatements(
        self, limit: int, after: ItemKey | None = None
    ) -> list[tuple[ItemKey, Position]]:
        """Up to `limit` owed restatements (restatements_owed.py) in key order, after `after`."""
        where, params = (
            ("", []) if after is None else ("WHERE (catalog_id, item_id) > (?, ?) ", [*after])
        )
        # (S608: the SQL names constant columns; every value goes through parameters)
        statement = f"SELECT {_OWED_Q} FROM owed_restatements {where}"  # noqa: S608
        rows = self._query(f"{statement}ORDER BY catalog_id, item_id LIMIT ?", [*params, limit])
        return [((str(c), str(i)), Position(int(p), int(o))) for c, i, p, o in rows]

    def owed_keys(self) -> set[ItemKey]:
        return {(str(c), str(i)) for c, i in self._query(
            "SELECT catalog_id, item_id FROM owed_restatements")}  # fmt: skip

    def settle_owed(self, paid: list[tuple[ItemKey, Position]]) -> None:
        """These debts are paid: delete each unless it was owed again at another position."""
        with self._write_lock, self._transaction() as cursor:
            cursor.executemany(
                self._batch_write.settle_paid,
                [(*key, at.partition, at.offset) for key, at in paid],
            )
