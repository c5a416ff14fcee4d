"""RFC 9457 problem details for the read API: every refusal is `application/problem+json` that
names the parameter and the reason, and no exception reaches the ASGI server as a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from projector.errors import StoreFailed, StoreRefused, StoreUnavailable
from projector.params import BadParameter
from runtime_support import problems as shared
from runtime_support.problems import FieldReason

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    414: "Query string too long",
    422: "Invalid parameter",
    500: "Internal error",
    503: "Service unavailable",
    504: "View not fresh enough yet",
}

log = logging.getLogger(__name__)


def problem(
    status: int,
    detail: str,
    *,
    errors: list[FieldReason] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The answer for `status`: its title from the table, the type URI from the title."""
    title = _TITLES.get(status, "Error")
    slug = title.lower().replace(" ", "-")
    return shared.problem(status, slug, title, detail, errors=errors, headers=headers)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    """The parameter FastAPI's error location names: ("query", "type", 0) -> "type"."""
    parts = [str(p) for p in location]
    return parts[1] if len(parts) > 1 and parts[0] in ("query", "path", "header") else "request"


async def _on_bad_parameter(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadParameter)
    return problem(422, f"{exc.name}: {exc.reason}", errors=[FieldReason(exc.name, exc.reason)])


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldReason(_field(e.get("loc", ())), str(e.get("msg", ""))) for e in exc.errors()]
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
    return problem(422, detail, errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(
        exc.status_code, str(exc.detail), headers=shared.http_problem_headers(request, exc)
    )


async def _on_store_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # The database down or restarting: a reader retries. Not logged per request (a busy API
    # would log thousands a second); the generation watch says once that the store is down.
    return problem(503, "the view store is unavailable; retry", headers={"Retry-After": "1"})


async def _on_store_failed(request: Request, exc: Exception) -> JSONResponse:
    # A defect (an SQL statement the store rejects), not an outage: the same read fails again,
    # so no "retry" (clients retried a 503 for ever) and logged, once, with its traceback. The
    # answer names nothing of it (the statement, the store). The log names the path, not the
    # query string (an id asked for is no secret, but a token in a query string would be).
    log.error("view store read failed (not an outage): %s", request.url.path, exc_info=exc)
    return problem(500, "the view store could not answer this read; it was logged")


async def _on_store_refused(request: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot hold, asked for (PostgreSQL text holds no NUL character):
    # no row can have it. It was a 503 "retry", which a client retried forever.
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    field = next((name for name, value in values if "\x00" in str(value)), None)
    reason = "holds a value the view store cannot hold" + (" (a NUL character)" if field else "")
    field = field or "request"
    return problem(422, f"{field}: {reason}", errors=[FieldReason(field, reason)])


async def _on_anything(_: Request, exc: Exception) -> JSONResponse:
    log.error("read API request failed", exc_info=exc)
    return problem(500, "the request failed; it was logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(BadParameter, _on_bad_parameter)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(StoreUnavailable, _on_store_unavailable)
    app.add_exception_handler(StoreFailed, _on_store_failed)  # (its subclass: this one wins)
    app.add_exception_handler(StoreRefused, _on_store_refused)
    app.add_exception_handler(Exception, _on_anything)
