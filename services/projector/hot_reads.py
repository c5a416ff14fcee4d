"""The two hot read routes, an item and a page of a catalog's items, answered as plain ASGI
before FastAPI's app is entered at all.

FastAPI's documented routes (app.py) stay the reference and the OpenAPI document: they answer
every request this module does not take. This module takes only requests whose every parameter
it has checked to be valid exactly as FastAPI would (anything else, or anything unusual, goes on
to FastAPI, which refuses it with the same problem document as always), and answers them with
the same bytes and headers as the documented route, built by the same functions. What it saves
per request is FastAPI's parameter solving, `jsonable_encoder` walking every value of a page
again (10 ms of a 50-item page's 11 under load), and the eight ASGI layers in front of the
router with Starlette's Response (together a quarter of an item lookup's CPU).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import parse_qsl

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from projector import params, problems
from projector.middleware import FreshHeaders
from projector.params import BadParameter
from projector.query import LIMIT_DEFAULT, LIMIT_MAX, MAX_CHARS
from projector.rows import item_json
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.shared_hops import SharedHops
from projector.sqlite_store import SqliteStore
from projector.store_reads import ItemFilter

JSON = "application/json"
_JSON_HEADER = (b"content-type", JSON.encode())  # as Starlette's Response writes it
_ITEM_PARAMETERS = frozenset(("min_position",))
_PAGE_PARAMETERS = frozenset(
    ("availability", "min_price", "max_price", "updated_since", "q", "cursor", "limit",
     "min_position")
)  # fmt: skip


class Reads:
    """The answers themselves, for both the documented routes and the plain ASGI ones."""

    def __init__(self, runtime: Runtime, settings: ProjectorSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self._hops = SharedHops(lambda: runtime.store)

    async def fresh_enough(self, min_position: str | None) -> None:
        """Read-your-writes: wait until the view holds `min_position`, or refuse with 504 (or
        at once, BadParameter, a partition the topic does not have)."""
        if min_position is None:
            return
        partition, offset = params.position("min_position", min_position)
        runtime = self.runtime
        if runtime.waiters.unknown_partition(partition) is not None:
            # The count known may be old (partitions added since): Kafka is asked first.
            never = await runtime.waiters.refusal(partition, runtime.projector.count_partitions)
            if never is not None:
                raise BadParameter("min_position", never)  # 422 (FastAPI's, as any refusal)

        if runtime.projector.has_applied(partition, offset):  # mostly: no timer
            return
        # Woken by whichever live consumer applies it: the waiters are shared across a
        # rebuild's switch, which replaces the consumer (the old one's positions never move).
        if not await runtime.waiters.wait(
            partition, offset, self.settings.read_your_writes_max_wait_s
        ):
            raise HTTPException(504, f"view has not reached {min_position} yet; retry shortly")

    async def item(self, catalog_id: str, item_id: str) -> Response:
        return Response(await self.item_body(catalog_id, item_id), media_type=JSON)

    async def items(self, catalog_id: str, where: ItemFilter) -> Response:
        return Response(await self.items_body(catalog_id, where), media_type=JSON)

    async def item_body(self, catalog_id: str, item_id: str) -> bytes:
        runtime, key = self.runtime, (catalog_id, item_id)
        store = runtime.store
        if not isinstance(store, SqliteStore):  # PostgreSQL: a network round trip each
            row = await asyncio.to_thread(store.item_row, key)
        elif runtime.projector.lag() == 0 and runtime.rebuild_status.state != "running":
            # On the loop while nothing is decoded or applied beside it: the indexed point read
            # (~25 us) costs less than the hop to a worker thread and back (item CPU 87-98 us a
            # request against 122-182 through the thread, 32 connections, same-run wrk). While
            # the consumer has records to apply (lag) or a rebuild runs, in the thread: on the
            # loop, each of sqlite3's GIL releases made it queue behind their Python work (p99
            # 318 ms against 230 with 3,000 updates/s arriving; earlier 163 against 44).
            row = store.item_row(key)
        else:  # the readers asking meanwhile (a batch's woken ones) share one hop: shared_hops
            row = await self._hops.item_row(key)
        if row is None:
            raise HTTPException(404, f"no item {item_id!r} in catalog {catalog_id!r}")
        return orjson.dumps(item_json(row))

    async def items_body(self, catalog_id: str, where: ItemFilter) -> bytes:
        rows = await asyncio.to_thread(self.runtime.store.item_rows, catalog_id, where)
        # JSON made here, not in the store's thread: see StoreReads.
        found = [item_json(row) for row in rows]
        next_cursor = found[-1]["item_id"] if len(found) == where.limit else None
        return orjson.dumps({"items": found, "next_cursor": next_cursor})


def item_filter(
    availability: str | None,
    min_price: str | None,
    max_price: str | None,
    updated_since: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> ItemFilter:
    """A page's filter from its parameters' texts; BadParameter names the one refused."""
    return ItemFilter(
        availability=params.given(params.availability, "availability", availability),
        min_price_units=params.given(params.price_units, "min_price", min_price),
        max_price_units=params.given(params.price_units, "max_price", max_price),
        updated_since_micros=params.given(params.moment_micros, "updated_since", updated_since),
        name_contains=q,
        after_item_id=cursor,
        limit=limit,
    )


class Unusual(Exception):
    """A request this module leaves to FastAPI."""


def _single_values(query: bytes, allowed: frozenset[str]) -> dict[str, str]:
    """The query's parameters as Starlette reads them (latin-1, then percent-decoded as UTF-8),
    each at most once and non-empty; anything else is Unusual."""
    if not query:  # (most item lookups: parse_qsl's work and the checks spared)
        return {}
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    found = dict(pairs)
    if len(found) != len(pairs) or not allowed.issuperset(found) or "" in found.values():
        raise Unusual
    for name, most in MAX_CHARS.items():  # longer values go to FastAPI
        if len(found.get(name, "")) > most:
            raise Unusual
    return found


def _limit(text: str | None) -> int:
    """Only plain decimal text (FastAPI's int reads more forms: those go to FastAPI)."""
    if text is None:
        return LIMIT_DEFAULT
    if not (text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= 4):
        raise Unusual
    value = int(text)
    if value > LIMIT_MAX:
        raise Unusual
    return value


def _min_position(text: str | None) -> str | None:
    if text is not None:
        try:
            params.position("min_position", text)
        except BadParameter as exc:
            raise Unusual from exc
    return text


def _page_filter(found: dict[str, str]) -> ItemFilter:
    try:
        return item_filter(
            found.get("availability"),
            found.get("min_price"),
            found.get("max_price"),
            found.get("updated_since"),
            found.get("q"),
            found.get("cursor"),
            _limit(found.get("limit")),
        )
    except BadParameter as exc:
        raise Unusual from exc


def _route(path: str) -> Sequence[str] | None:
    """`[catalog_id]` for /v1/catalogs/{catalog_id}/items, `[catalog_id, item_id]` for
    /v1/catalogs/{catalog_id}/items/{item_id}, as Starlette matches them ([^/]+ each)."""
    parts = path.split("/")
    if len(parts) in (5, 6) and parts[:3] == ["", "v1", "catalogs"] and parts[4] == "items":
        names = parts[3:4] + parts[5:]
        if all(names):
            return names
    return None


class HotReads:
    """The plain ASGI routes, asked first by the app (app.ReadApi) before FastAPI's stack: they
    do themselves what its layers would do for them (the query-string limit: longer ones go on
    to FastAPI, which refuses them; the freshness headers; a failure's 500: see `__call__`)."""

    def __init__(self, reads: Reads, headers: FreshHeaders, max_query_bytes: int) -> None:
        self.reads = reads
        self.headers = headers
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request if it is one of ours; False (nothing sent) leaves it to FastAPI."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            return False
        names = _route(scope["path"])
        query: bytes = scope["query_string"]
        if names is None or len(query) > self.max_query_bytes:
            return False
        try:
            body = await self._answer(names, query)
        except Unusual:
            return False
        except HTTPException as exc:  # what FastAPI's handler makes of the same exception
            answer = problems.problem(exc.status_code, str(exc.detail))
            await self._send(send, answer.status_code, answer.raw_headers, bytes(answer.body))
            return True
        except Exception:
            # Nothing was sent: FastAPI answers the request again, so a failing store gets the
            # documented route's answer (its handler logs it and answers 500) and nothing else.
            return False
        content_length = (b"content-length", str(len(body)).encode())
        await self._send(send, 200, [content_length, _JSON_HEADER], body)
        return True

    async def _send(
        self, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """What Starlette's Response sends, with the freshness headers after its own."""
        await send(
            {"type": "http.response.start", "status": status, "headers": headers + self.headers()}
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, names: Sequence[str], query: bytes) -> bytes:
        if len(names) == 2:
            found = _single_values(query, _ITEM_PARAMETERS)
            await self.reads.fresh_enough(_min_position(found.get("min_position")))
            return await self.reads.item_body(names[0], names[1])
        found = _single_values(query, _PAGE_PARAMETERS)
        where = _page_filter(found)
        await self.reads.fresh_enough(_min_position(found.get("min_position")))
        return await self.reads.items_body(names[0], where)
