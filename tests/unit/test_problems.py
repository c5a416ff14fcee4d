"""The one problem+json rule both services answer refusals with (runtime_support.problems)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

from projector import problems as read_api
from receiver.errors import FieldProblem
from runtime_support.problems import PROBLEM_JSON, FieldReason, problem, problem_body


def test_the_body_has_the_standard_members_then_extras_then_errors() -> None:
    body = problem_body(
        422, "invalid-postback", "Invalid postback", "2 fields", [FieldReason("a", "b")], id="x"
    )
    assert body == {
        "type": "https://catalog-stream.dev/problems/invalid-postback",
        "title": "Invalid postback",
        "status": 422,
        "detail": "2 fields",
        "id": "x",
        "errors": [{"field": "a", "reason": "b"}],
    }
    assert list(body) == ["type", "title", "status", "detail", "id", "errors"]


def test_no_errors_member_without_errors() -> None:
    assert "errors" not in problem_body(404, "not-found", "Not found", "gone", [])
    assert "errors" not in problem_body(404, "not-found", "Not found", "gone")


def _body(answer: JSONResponse) -> Any:
    return json.loads(bytes(answer.body))


def test_the_receivers_field_problems_are_named_as_they_are() -> None:
    answer = problem(
        422, "s", "T", "d", errors=[FieldProblem("CurrentPrice", "not a decimal")], request_id="r"
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert _body(answer)["errors"] == [{"field": "CurrentPrice", "reason": "not a decimal"}]
    assert _body(answer)["request_id"] == "r"


def test_headers_are_passed_on() -> None:
    answer = problem(503, "not-ready", "Not ready", "d", headers={"Retry-After": "1"})
    assert answer.headers["retry-after"] == "1"


def test_the_read_api_names_its_type_after_its_title() -> None:
    answer = read_api.problem(414, "too long", headers={"X-A": "1"})
    assert _body(answer) == {
        "type": "https://catalog-stream.dev/problems/query-string-too-long",
        "title": "Query string too long",
        "status": 414,
        "detail": "too long",
    }
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["x-a"] == "1"
    unknown = _body(read_api.problem(418, "teapot"))
    assert (unknown["title"], unknown["type"]) == (
        "Error",
        "https://catalog-stream.dev/problems/error",
    )
