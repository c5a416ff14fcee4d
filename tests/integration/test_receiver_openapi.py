"""schemathesis against the receiver's own OpenAPI document (/openapi.json), served by uvicorn
as in production, through the real broker: no 5xx, and every answer conforms to the document
(status, content type, schema, headers), for generated valid and invalid requests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import given
from schemathesis import Case, GenerationMode
from schemathesis.openapi import from_url
from schemathesis.specs.openapi.checks import positive_data_acceptance

from catalog_stream.ports import free_port
from receiver.app import PATH, create_app
from receiver.main import server_config
from tests.hostile_inputs import fuzz_settings
from tests.support import AUTH, make_topics, receiver_settings

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def receiver_url(kafka_bootstrap: str) -> Iterator[str]:
    """The receiver under uvicorn in a thread, on a free port, writing to fresh topics."""
    topics = asyncio.run(make_topics(kafka_bootstrap))
    config = receiver_settings(kafka_bootstrap, topics, port=free_port())
    server = uvicorn.Server(server_config(config, create_app(config)))
    thread = threading.Thread(target=server.run, name="receiver", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("receiver not ready")
        time.sleep(0.2)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


EXAMPLES_PER_OPERATION = 80


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_receiver_answers_as_its_openapi_document_says(
    receiver_url: str, mode: GenerationMode
) -> None:
    # Every check but positive_data_acceptance: the document types each data point as text,
    # but what a field accepts (a price's decimals, a date within a day of now) is more than a
    # JSON schema can say truthfully, so schema-valid text may rightly get a 422.
    # Strategies rather than schemathesis' pytest plugin, whose lazy schemas (from_fixture)
    # fail on pytest 9 (they set a node attribute pytest no longer has).
    schema = from_url(f"{receiver_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/postbacks/product-changes",
        "GET /v1/postbacks/product-changes",
    }
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.path != PATH:
            continue  # nothing to get wrong in a request without parameters or body

        @fuzz_settings(EXAMPLES_PER_OPERATION)
        @given(case=operation.as_strategy(mode, headers=AUTH))  # credential never mutated
        def answers_conform(case: Case[Any]) -> None:
            case.call_and_validate(
                base_url=receiver_url, excluded_checks=[positive_data_acceptance]
            )

        answers_conform()
