"""CATALOG_RECEIVER_READY_WAIT_S: how long the receiver's /readyz waits for the broker's
metadata (receiver.readiness), 0.8 s unless set; at least 0.1 s and at most 10 s, a wrong value
refused at start with a message naming the setting. Fails on the code before: the bound was a
constant (READY_WAIT_S), no setting (an unknown variable is ignored: 0.8 s whatever it said)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from receiver.settings import ReceiverSettings


def test_the_default_is_0_8_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CATALOG_RECEIVER_READY_WAIT_S", raising=False)
    assert ReceiverSettings(dev_mode=True).ready_wait_s == 0.8


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_RECEIVER_READY_WAIT_S", "2.5")
    assert ReceiverSettings(dev_mode=True).ready_wait_s == 2.5
    monkeypatch.setenv("CATALOG_RECEIVER_READY_WAIT_S", "10")
    assert ReceiverSettings(dev_mode=True).ready_wait_s == 10.0


@pytest.mark.parametrize(
    "value", ["0", "-1", "0.0001", "0.099", "10.01", "60", "nan", "inf", "soon"]
)
def test_a_wrong_value_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CATALOG_RECEIVER_READY_WAIT_S", value)
    with pytest.raises(ValidationError, match="ready_wait_s"):
        ReceiverSettings(dev_mode=True)
