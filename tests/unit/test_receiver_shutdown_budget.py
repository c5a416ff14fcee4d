"""The shutdown budget's parts (pure arithmetic; the behaviour is
tests/integration/test_receiver_shutdown_paused.py's): the default fits Kubernetes' default
30 s termination grace, and uvicorn's own wait for the postbacks in flight ends after the
publisher has answered them (its give-up point) and before the budget is spent."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import SecretStr

from receiver.main import server_config
from receiver.publisher_stop import stop_reserve_s
from receiver.settings import ReceiverSettings


def _settings(**overrides: object) -> ReceiverSettings:
    return ReceiverSettings(secrets=[SecretStr("x" * 16)], **overrides)  # type: ignore[arg-type]


def test_the_default_budget_fits_the_default_kubernetes_grace() -> None:
    # 25 s of the 30: the rest for the signal's delivery and the interpreter's exit.
    assert _settings().shutdown_timeout_s == 25.0


def test_the_reserve_is_two_seconds_or_a_quarter_of_a_short_budget() -> None:
    assert stop_reserve_s(25.0) == 2.0
    assert stop_reserve_s(8.0) == 2.0
    assert stop_reserve_s(4.0) == 1.0
    assert stop_reserve_s(2.0) == 0.5


def test_uvicorn_waits_past_the_give_up_point_and_within_the_budget() -> None:
    for budget_s, wait_s in ((25.0, 24), (8.0, 7), (2.0, 2)):
        settings = _settings(shutdown_timeout_s=budget_s)
        config = server_config(settings, FastAPI())
        assert config.timeout_graceful_shutdown == wait_s
        assert budget_s - stop_reserve_s(budget_s) < wait_s <= budget_s
