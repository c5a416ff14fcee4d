"""schemathesis against the projector's own /openapi.json, through the real broker: generated
requests (valid and invalid) never get a 5xx, and every answer matches the documented schemas,
status codes and media types (application/problem+json for refusals)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from catalog_contract.events import Availability
from projector.generations import SqliteGenerations
from tests.factories import change
from tests.support import (
    ADMIN,
    Topics,
    caught_up,
    produce_events,
    projector_settings,
    serving_projector,
)

pytestmark = pytest.mark.broker

EXAMPLES_PER_MODE = 250  # ~60 s on a loaded 2-core machine, both modes together
# A query string past CATALOG_PROJECTOR_MAX_QUERY_BYTES is refused with 414 (documented), a
# refusal schemathesis's default list of statuses for invalid requests does not name.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 414, 415, 422, 428, 429]
            }
        }
    }
)


def fuzz(url: str, mode: GenerationMode, seen: Counter[int]) -> None:
    """Runs in a thread: schemathesis makes blocking calls to the server on the test's loop."""
    # The stream never ends by itself (tests/integration/test_projector_api.py follows it).
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=CONFIG).exclude(
        path="/v1/changes/stream"
    )

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy(mode))
    def one(case: Case[Any]) -> None:
        headers = ADMIN if case.path.startswith("/v1/admin/") else None
        response = case.call(base_url=url, headers=headers, timeout=30)
        status = response.status_code
        seen[status] += 1
        # The 5xx the API means (README): read-your-writes gave up waiting for `min_position`;
        # /readyz while the views catch up (after a rebuild the schemathesis run started).
        meant = (status == 504 and "min_position" in (case.query or {})) or (
            status == 503 and case.path == "/readyz"
        )
        assert status < 500 or meant, (status, response.text, case.as_curl_command())
        excluded: list[Any] = [not_a_server_error]
        if status == 422 and "the topic has no partition" in response.text:
            # A schema-valid `min_position` on a partition the topic does not have: refused
            # at once (documented); the document cannot say how many partitions the topic has.
            assert "min_position" in (case.query or {}), case.as_curl_command()
            excluded.append(positive_data_acceptance)
        case.validate_response(response, headers=headers, excluded_checks=excluded)

    one()


# schemathesis's strategies draw from `random` (hypothesis deprecates that; not our code).
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_generated_requests_get_documented_answers_and_never_a_5xx(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    events = [
        change(
            f"i{n}",
            f"c{n % 3}",
            minute=n,
            price=f"{n}.5",
            stock=Availability.IN_STOCK,
            name=f"thing {n} 50%_off",
        )
        for n in range(30)
    ]
    written = await produce_events(kafka_bootstrap, topics.product, events)
    settings_ = projector_settings(
        kafka_bootstrap, topics, tmp_path / "v.db", read_your_writes_max_wait_s=0.05
    )
    async with serving_projector(settings_, SqliteGenerations(tmp_path / "v.db")) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            await caught_up(client, written, timeout_s=30, path="/healthz")
        seen: Counter[int] = Counter()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            await asyncio.to_thread(fuzz, url, mode, seen)
    print(f"schemathesis answers by status: {dict(sorted(seen.items()))}")
    assert not [status for status in seen if status >= 500 and status not in (503, 504)]
    assert seen[200] > 0  # it reached the views
    assert seen[422] > 0  # and the refusals
