"""RFC 9457 problem details, as both services answer every refusal: `application/problem+json`
with a type URI, a title, the status, a detail and, where fields were at fault, each field and
its reason. One home, so the receiver's and the projector's refusals cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://catalog-stream.dev/problems/"


class NamesAField(Protocol):
    """What a problem says of one refused field (the receiver's FieldProblem is one)."""

    @property
    def field(self) -> str: ...

    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class FieldReason:
    field: str
    reason: str


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[NamesAField] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The document: `errors` only when there are some, `extra` members after the standard ones."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    if errors:
        body["errors"] = [{"field": e.field, "reason": e.reason} for e in errors]
    return body


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: Sequence[NamesAField] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, slug, title, detail, errors, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def allowed_methods(request: Request) -> str:
    """A 405's `Allow`: every method the app's routes answer on the request's path. Starlette's
    own names only the first matching route's, so a path with a GET and a POST route answered
    `Allow: POST` (RFC 9110 says it lists the methods the resource supports)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def http_problem_headers(request: Request, exc: HTTPException) -> dict[str, str]:
    """The headers of a problem made from Starlette's own answer (404, 405 ...): its own, with
    a 405's `Allow` naming every method the path answers (`allowed_methods`)."""
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return headers
