"""bench.receiver_steps' in-route rows: the route still answers every body 200 with the steps'
results given, and the real steps are back in the route once a timed run ends."""

from __future__ import annotations

import pytest
from bench.receiver_steps import _StepsGiven, load_bodies, whole_postback

from catalog_contract.writing import product_records
from receiver import intake_flow
from receiver.intake import change_from_request


@pytest.mark.parametrize("given", ["", "change", "records"])
def test_every_body_is_answered_200_and_the_real_steps_are_put_back(given: str) -> None:
    step = whole_postback(load_bodies(20), given=given)
    step()  # (raises unless all 20 answers are 200)
    step()
    assert vars(intake_flow)["change_from_request"] is change_from_request
    assert vars(intake_flow)["product_records"] is product_records


def test_an_exception_while_timed_puts_the_real_steps_back_too() -> None:
    given = _StepsGiven(load_bodies(3), "records")
    swapped = []

    def fails_while_timed() -> None:
        with given:
            swapped.append(vars(intake_flow)["product_records"] is not product_records)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fails_while_timed()
    assert swapped == [True]
    assert vars(intake_flow)["change_from_request"] is change_from_request
    assert vars(intake_flow)["product_records"] is product_records
