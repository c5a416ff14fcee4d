"""The projector's admin endpoints take a credential of their own: a bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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
