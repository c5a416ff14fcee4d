"""The projector's admin endpoints (starting and watching a rebuild) take a credential of
their own: a bearer token."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from projector import answers
from projector.runtime import Runtime
from projector.settings import ProjectorSettings

_BEARER = HTTPBearer(auto_error=False, description="CATALOG_PROJECTOR_ADMIN_TOKEN")


def admin_guard(settings: ProjectorSettings) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency: 403 while no token is configured, 401 unless the request's
    `Authorization: Bearer` matches it (compared in constant time, as bytes)."""

    async def admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        token = settings.admin_token
        if token is None:
            raise HTTPException(403, "admin endpoints are off: CATALOG_PROJECTOR_ADMIN_TOKEN")
        given = b"" if credentials is None else credentials.credentials.encode()
        if not hmac.compare_digest(given, token.get_secret_value().encode()):
            raise HTTPException(
                401, "missing or wrong admin token", headers={"WWW-Authenticate": "Bearer"}
            )

    return admin


# What a rebuild's `state` says (GET), and so when POST starts one: one rule for both.
STATES = (
    "`state`: `idle` (none since this instance started, or another instance switched the"
    " views), `running` (building, or switching; a failed one while it deletes its generation),"
    " `done` (switched: the old generation's readers finish and it is deleted meanwhile, which"
    " does not hold the next rebuild), `failed` (`error` says why; the active generation kept"
    " serving). A rebuild may start whenever it is not `running`, but while the first catch-up"
    " in parts loads the topic into the active generation (`first_catch_up` not null)."
)


def add_admin_routes(app: FastAPI, runtime: Runtime, settings: ProjectorSettings) -> None:
    """`POST/GET /v1/admin/rebuild`, behind `admin_guard`."""
    admin_only = [Depends(admin_guard(settings))]
    admin_refusals = answers.problems(401, 403)
    running: dict[int | str, dict[str, Any]] = {
        409: {
            **answers.problems(409)[409],
            "description": "a rebuild is `running`, or the first catch-up in parts loads the"
            " topic (`first_catch_up` not null): `detail` says which",
        }
    }

    @app.post(
        "/v1/admin/rebuild",
        status_code=202,
        dependencies=admin_only,
        response_model=answers.RebuildStatus,
        response_description=f"started: its status, `running`. {STATES}",
        responses={**admin_refusals, **running},
    )
    async def start_rebuild() -> dict[str, Any]:
        """Rebuild every view from the earliest offset while the current ones keep serving."""
        if not runtime.start_rebuild():
            raise HTTPException(409, runtime.rebuild_refusal())
        await asyncio.sleep(0)  # let it name its generation
        return asdict(runtime.rebuild_status)

    @app.get(
        "/v1/admin/rebuild",
        dependencies=admin_only,
        response_model=answers.RebuildStatus,
        response_description=f"the last rebuild's status. {STATES}",
        responses=admin_refusals,
    )
    async def rebuild_status() -> dict[str, Any]:
        loading = runtime.first_load
        return {
            **asdict(runtime.rebuild_status),
            "active_generation": runtime.store.name,
            "first_catch_up": None
            if loading is None
            else {
                "applied": loading.applied,
                "target": loading.target,
                "started_at": loading.started_at,
            },
        }
