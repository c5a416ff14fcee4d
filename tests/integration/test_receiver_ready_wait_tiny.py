"""CATALOG_RECEIVER_READY_WAIT_S accepts any value above 0 (f9d8e26). One far below a healthy
broker's round trip (here a microsecond) is not refused at start, yet /readyz can then never be
200: the metadata request cannot answer within it, so a healthy receiver stays out of the load
balancer for ever, said nowhere but in its 503s. A value no broker can meet must be refused
with the start-up error that names the setting (as 0 and 11 are), or the receiver be ready with
a healthy broker. Fails on the change as merged: accepted, and never ready."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.support import _is_ready, eventually, make_topics, receiver_settings, running_receiver

pytestmark = pytest.mark.broker


@pytest.mark.parametrize("wait_s", [1e-6, 1e-4])
async def test_a_wait_no_broker_can_meet_is_refused_or_still_ready(
    kafka_bootstrap: str, wait_s: float
) -> None:
    topics = await make_topics(kafka_bootstrap)
    try:
        settings = receiver_settings(kafka_bootstrap, topics, ready_wait_s=wait_s)
    except ValidationError:
        return  # refused at start (settings_from_env names the variable): fine
    async with running_receiver(settings, wait_ready=False) as receiver:
        await eventually(lambda: _is_ready(receiver), timeout_s=15)
