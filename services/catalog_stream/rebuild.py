"""`catalog-stream rebuild`: ask a running projector to rebuild its views, and show progress."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from tqdm import tqdm

from catalog_stream.errors import CatalogStreamError


class RebuildError(CatalogStreamError):
    """The projector could not be reached (retryable), refused, or the rebuild failed."""


def _call(url: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - the operator's own URL
    # The projector's admin endpoints take the token its own setting names.
    token = os.environ.get("CATALOG_PROJECTOR_ADMIN_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def rebuild(projector: str, poll_s: float) -> None:
    endpoint = projector.rstrip("/") + "/v1/admin/rebuild"
    try:
        status, body = _call(endpoint, "POST")
    except urllib.error.URLError as exc:
        raise RebuildError(
            f"cannot reach the projector at {projector}: {exc.reason}", retryable=True
        ) from exc
    if status == 409:
        # Refused: a rebuild running (then followed), or not now for another reason (the first
        # catch-up in parts), which the answer's detail names.
        if _call(endpoint)[1].get("state") != "running":
            reason = body.get("detail") or body
            raise RebuildError(f"the projector refused the rebuild: {reason}", retryable=True)
        print("a rebuild is already running; following it", file=sys.stderr)
    elif status != 202:
        raise RebuildError(f"the projector answered {status}: {body}")
    # A progress bar on a terminal; quiet when piped (tqdm's disable=None).
    with tqdm(desc="rebuilding views", unit="rec", unit_scale=True, disable=None) as bar:
        while True:
            _, body = _call(endpoint)
            bar.total = body.get("target") or None
            bar.n = body.get("applied", 0)
            bar.refresh()
            if body.get("state") != "running":
                break
            time.sleep(poll_s)
    if body.get("state") != "done":
        raise RebuildError(f"rebuild {body.get('state')}: {body.get('error')}")
    print(f"views rebuilt: {body['applied']} records into generation {body['active_generation']}")
