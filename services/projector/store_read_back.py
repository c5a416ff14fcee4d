"""Reading back what the store knows of a batch's items before the batch is planned (their
states, or their removal markers). A mixin of `ViewStore` (store.py), written over its connection,
so the same SQL serves SQLite and PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from projector.batch import ItemKey
from projector.errors import StoreUnavailable
from projector.item_state import ItemState, Removed
from projector.rows import ITEM_COLUMNS, REMOVAL_COLUMNS, from_row, removal_from_row

_Q = ", ".join(f'"{c}"' for c in ITEM_COLUMNS)
_REMOVAL_Q = ", ".join(f'"{c}"' for c in REMOVAL_COLUMNS)


class ItemReadBack(ABC):
    @abstractmethod
    def _connected(self) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def _sql(self, statement: str) -> str: ...

    @abstractmethod
    def _roll_back(self, connection: Any) -> bool: ...

    @abstractmethod
    def _read_failure(self, exc: Exception, connection: Any) -> StoreUnavailable: ...

    def load_items(
        self, keys: Iterable[ItemKey], chunk: int = 400
    ) -> dict[ItemKey, ItemState | Removed]:
        """What the store knows of many items (their state, or their removal) in a few queries:
        one round trip per `chunk` ids of a catalog and table, not one per item;
        `catalog_id = ? AND item_id IN (...)` walks the primary key in both databases."""
        keys = list(keys)
        return self.load_known(keys, keys, chunk)

    def load_known(
        self, item_keys: Iterable[ItemKey], marker_keys: Iterable[ItemKey], chunk: int = 400
    ) -> dict[ItemKey, ItemState | Removed]:
        """`load_items`, looking up `item_keys` among the item rows and `marker_keys` among the
        removal markers: a caller that knows a key has none of one (a rebuild's part, which
        wrote all its file holds: rebuild_part_store.py) does not ask for it."""
        markers: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        with self._connected() as connection:
            try:  # one read transaction for all of them (on PostgreSQL, one commit, not one each)
                cursor = connection.cursor()
                for found, select, keys in (
                    (markers, f"SELECT {_REMOVAL_Q} FROM removals", marker_keys),  # noqa: S608
                    (rows, f"SELECT {_Q} FROM items", item_keys),  # noqa: S608
                ):
                    by_catalog: dict[str, list[str]] = {}
                    for catalog_id, item_id in keys:
                        by_catalog.setdefault(catalog_id, []).append(item_id)
                    for catalog_id, item_ids in by_catalog.items():
                        for start in range(0, len(item_ids), chunk):
                            part = item_ids[start : start + chunk]
                            marks = ", ".join("?" for _ in part)
                            where = f"WHERE catalog_id = ? AND item_id IN ({marks})"
                            cursor.execute(self._sql(f"{select} {where}"), [catalog_id, *part])
                            found.extend(cursor.fetchall())
                connection.commit()  # end the read snapshot
            except Exception as exc:
                self._roll_back(connection)  # else PostgreSQL refuses every later query on it
                raise self._read_failure(exc, connection) from exc
        found_states: dict[ItemKey, ItemState | Removed] = {}
        for row in markers:
            marker = removal_from_row(row)
            found_states[(marker.catalog_id, marker.item_id)] = marker
        for row in rows:  # an item's row wins over a marker, as it always did
            state = from_row(row)
            found_states[(state.catalog_id, state.item_id)] = state
        return found_states
