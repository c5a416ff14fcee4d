"""What the receiver's OpenAPI document says about the postback endpoint: the body in each
format, the GET query parameters, every answer with its schema, and the credential header.

Checked by schemathesis against the running receiver (tests/integration/test_receiver_openapi.py),
so it must describe what the code does, not what it was meant to do.
"""

from __future__ import annotations

from typing import Any

from receiver import formats
from receiver.postback import DATA_POINTS, REQUIRED

SECURITY_SCHEME = "postbackToken"

# What a JSON body's value may be (formats.from_json): text, a number, true/false, null (absent),
# or a list of texts and numbers.
_JSON_VALUE: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
    ]
}
_TEXT_OR_LIST: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
}


# CatalogId and CatalogItemId: text with something besides spaces (a number in JSON).
_IDENTIFIER: dict[str, Any] = {
    "anyOf": [{"type": "string", "pattern": "\\S"}, {"type": "number"}],
}


def _data_points(value: dict[str, Any], identifier: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The platform's data points under its own names (the recommended "
        "template); a deployment's own keys are mapped by CATALOG_RECEIVER_FIELD_MAP. "
        "Values are text (see the README for what each accepts); an empty value means not "
        "sent; other keys are ignored.",
        "required": list(REQUIRED),
        "properties": {name: identifier if name in REQUIRED else value for name in DATA_POINTS},
        "additionalProperties": value,
    }


PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "description": "the dead-letter record's id"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
STATUS: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string"}},
}
ACCEPTED: dict[str, Any] = {
    "type": "object",
    "required": ["event_id", "topic", "partition", "offset", "position"],
    "properties": {
        "event_id": {"type": "string", "format": "uuid"},
        "topic": {"type": "string"},
        "partition": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "position": {"type": "string", "description": "partition:offset of the last record"},
    },
}


def problem_answer(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM}},
        **extra,
    }


DEAD_LETTERED: dict[str, Any] = {
    "type": "object",
    "description": "CATALOG_RECEIVER_INVALID_ANSWER=accept: a refused postback, kept in the "
    "dead-letter topic and not published.",
    "required": ["dead_lettered", "published", "request_id", "status", "reason", "errors"],
    "properties": {
        "dead_lettered": {"type": "boolean"},
        "published": {"type": "boolean"},
        "request_id": {"type": "string"},
        "status": {"type": "integer"},
        "reason": {"type": "string"},
        "errors": PROBLEM["properties"]["errors"],
    },
}

_RESPONSES: dict[str, Any] = {
    "200": {
        "description": "Durably written (acks=all): event id, partition and offset (or "
        "CATALOG_RECEIVER_SUCCESS_BODY as text, when set). With "
        "CATALOG_RECEIVER_INVALID_ANSWER=accept, also a refused postback once it is kept in the "
        "dead-letter topic: a receipt with dead_lettered true, published false, and the header "
        "X-Dead-Lettered.",
        "content": {
            "application/json": {"schema": {"anyOf": [ACCEPTED, DEAD_LETTERED]}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    "400": problem_answer("Body not well-formed; kept in the dead-letter topic."),
    "401": problem_answer("Missing or wrong credential header; nothing stored."),
    "403": problem_answer("Caller's address not allowed; nothing stored."),
    "408": problem_answer("Body not received in time; nothing stored."),
    "413": problem_answer("Body over the limit; kept in the dead-letter topic."),
    "414": problem_answer("Query string over the limit; kept in the dead-letter topic."),
    "415": problem_answer("Unsupported content type; kept in the dead-letter topic."),
    "422": problem_answer("Invalid data points, each named; kept in the dead-letter topic."),
    "500": problem_answer("A bug (logged); nothing stored: send it again."),
    "503": problem_answer(
        "Kafka unavailable: retry after Retry-After seconds.",
        headers={"Retry-After": {"schema": {"type": "integer"}}},
    ),
}

POST_OPERATION: dict[str, Any] = {
    "security": [{SECURITY_SCHEME: []}],
    # Data points may be written into the URL too (read as a GET's, beside the body's; one in
    # both must be the same): optional, the body usually carries every one.
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in DATA_POINTS
    ],
    "requestBody": {
        "required": True,
        "description": "The platform's data points, under the names of the partner's template.",
        "content": {
            formats.JSON: {
                "schema": _data_points(_JSON_VALUE, _IDENTIFIER),
                "example": {"CatalogId": "42", "CatalogItemId": "sku-1", "CurrentPrice": "12.99"},
            },
            formats.FORM: {
                "schema": _data_points(_TEXT_OR_LIST, _IDENTIFIER["anyOf"][0]),
                "example": {"CatalogId": "42", "CatalogItemId": "sku-1"},
            },
            "application/xml": {
                # XML has no types: an element's text, or nested elements as a list.
                "schema": {
                    **_data_points({}, {}),
                    "xml": {"name": "postback"},
                },
                "example": "<postback><CatalogId>42</CatalogId>"
                "<CatalogItemId>sku-1</CatalogItemId></postback>",
            },
        },
    },
    "responses": _RESPONSES,
}
GET_OPERATION: dict[str, Any] = {
    "security": [{SECURITY_SCHEME: []}],
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": name in REQUIRED,
            "schema": _IDENTIFIER["anyOf"][0] if name in REQUIRED else {"type": "string"},
        }
        for name in DATA_POINTS
    ],
    "responses": _RESPONSES,
}

# /readyz: ready, or 503 while Kafka is unreachable or a topic is missing.
READYZ_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": STATUS}}},
    503: problem_answer("Kafka unreachable or topics missing."),
}


def add_security_scheme(spec: dict[str, Any], header: str) -> None:
    """The credential header, under the name this deployment uses."""
    components = spec.setdefault("components", {})
    components["securitySchemes"] = {
        SECURITY_SCHEME: {"type": "apiKey", "in": "header", "name": header}
    }
