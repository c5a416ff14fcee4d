"""Reading a postback's data points out of each format the platform can send. Pure functions.

JSON object, form-encoded body, XML document (one element per data point; its attributes
apart, read with the field map by xml_attributes.py), or query string (a GET's, or beside a
POST's body: intake.py). All give the same shape: data-point key -> text, or a list of texts.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from receiver.errors import UnreadableBody
from receiver.values import RawValue

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
XML_TYPES = ("application/xml", "text/xml")
ACCEPTED_TYPES = (JSON, FORM, *XML_TYPES)
MAX_FIELDS = 1_000
"""Most fields (key-value pairs, JSON members, XML elements) one postback may carry. The
platform has about 25 data points; the bound keeps per-field Python work small, whatever a
body of the allowed size could hold (100,000 `a&` pairs cost ~0.2 s)."""


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A repeated key keeps every value, in order, as forms and XML keep one: json's own dict
    kept the last silently (`{"CatalogId":"42","CatalogId":"43"}` was catalog 43, while
    whatever reads the first, a proxy or a person, sees 42). Each repeat counts as a field."""
    if len(pairs) > MAX_FIELDS:
        raise _too_many(len(pairs))
    points = dict(pairs)
    if len(points) == len(pairs):  # the usual case: no key repeated
        return points
    grouped: dict[str, list[Any]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


_JSON_DECODER = json.JSONDecoder(
    parse_int=str, parse_float=str, parse_constant=str, object_pairs_hook=_json_object
)


def _too_many(count: int) -> UnreadableBody:
    return UnreadableBody(f"too many fields: {count} (at most {MAX_FIELDS})")


def _add(points: dict[str, RawValue], key: str, value: str) -> None:
    """A repeated key becomes a list (the way forms and XML carry lists). Appended in place:
    copying the list at each repeat made 40,000 repeats of one key cost seconds."""
    existing = points.get(key)
    if existing is None:
        points[key] = value
    elif isinstance(existing, list):
        existing.append(value)
    else:
        points[key] = [existing, value]


def _text(value: object, key: str) -> RawValue:
    if isinstance(value, str):  # the usual case first
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    # Numbers arrive as text (parse_int/parse_float), so a list item must be text: a true or
    # false in a list was taken as a number (bool is an int) and kept as "True"/"False".
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UnreadableBody(f"JSON field {key!r} must be text, a number or a list of them", 422)


def from_json(body: bytes) -> dict[str, RawValue]:
    """Numbers stay the text they were sent as: no float rounding, no `int()` whose cost grows
    with the digits (and which refuses more than 4,300 of them)."""
    try:
        # json.loads's own steps for bytes, with one decoder: given parse_int and the rest,
        # json.loads builds a new decoder and scanner on every call.
        document = _JSON_DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableBody(f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # the C parser gives up on deep nesting; nothing is that deep
        raise UnreadableBody("body is not a postback: JSON nested too deeply") from exc
    if not isinstance(document, dict):
        raise UnreadableBody("JSON body must be an object of data points")
    for value in document.values():
        if value.__class__ is not str:  # (numbers arrive as text: the usual postback is all text)
            return {key: _text(value, key) for key, value in document.items()}  # keys are str
    return document  # every value text already: what the copy above would give, uncopied


def from_pairs(pairs: list[tuple[str, str]]) -> dict[str, RawValue]:
    points: dict[str, RawValue] = {}
    for key, value in pairs:
        _add(points, key, value)
    return points


def _pairs(text: str, errors: str = "strict") -> dict[str, RawValue]:
    """Percent-escapes are read as UTF-8, strictly: parse_qsl's default put U+FFFD in place of
    any other bytes (`caf%E9`, Latin-1, was published as `caf\ufffd`)."""
    try:  # max_num_fields counts the separators before parsing anything
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors=errors)
    except UnicodeDecodeError as exc:  # (a ValueError too: first)
        raise _not_utf8(text) from exc
    except ValueError as exc:
        raise _too_many(text.count("&") + 1) from exc
    return from_pairs(pairs)


def _not_utf8(text: str) -> UnreadableBody:
    """The refusal naming the first pair whose escapes are not UTF-8 (by its key as sent)."""
    for pair in text.split("&"):  # as parse_qsl splits; only on the way to a refusal
        try:
            unquote_plus(pair, errors="strict")
        except UnicodeDecodeError:
            return UnreadableBody(
                f"field {pair.partition('=')[0][:64]!r}: percent-escapes are not UTF-8 text"
            )
    return UnreadableBody("percent-escapes are not UTF-8 text")  # pragma: no cover


def from_form(body: bytes) -> dict[str, RawValue]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableBody("form body is not UTF-8") from exc
    return _pairs(text)


def from_query(query: str, errors: str = "strict") -> dict[str, RawValue]:
    """A GET postback's query string (percent-escapes read as UTF-8, as Starlette reads them).
    `errors="surrogateescape"` keeps other bytes as lone surrogates, which no data point's
    reading accepts (a POST's query, where a key that is no data point must not be refused)."""
    return _pairs(query, errors)


Attribute = tuple[str | None, str, str, bool]
"""An XML attribute: (its element's name, None for the root; its name; its value; whether the
element holds a value). Read beside the data points by xml_attributes.py, with the field map."""
# `xml:lang`, `xml:space`, `xml:base`: what language a text is in, how its spaces were written,
# where it came from; `xsi:type`, `xsi:nil`, `xsi:schemaLocation`: how a serializer typed it;
# never what the value is. (Namespace declarations are no attributes to the parser: never seen.)
_SAY_NOTHING = (
    "{http://www.w3.org/XML/1998/namespace}",
    "{http://www.w3.org/2001/XMLSchema-instance}",
)


def _local(name: str) -> str:
    """A name less its namespace (`{urn:x}CurrentPrice`, written `p:CurrentPrice` or under a
    default `xmlns`): the key the template wrote. With it, none of a namespaced document's
    data points was read, and a prefixed one among plain ones was dropped silently."""
    return name.rpartition("}")[2] if name[:1] == "{" else name


def _attributes(element: str | None, attrib: dict[str, str], holds: bool) -> list[Attribute]:
    return [
        (element, _local(k), v, holds) for k, v in attrib.items() if not k.startswith(_SAY_NOTHING)
    ]


def from_xml(body: bytes) -> dict[str, RawValue]:
    """The data points of `xml_document`, without the attributes."""
    return xml_document(body)[0]


def xml_document(body: bytes) -> tuple[dict[str, RawValue], list[Attribute]]:
    """`<postback><CatalogId>1</CatalogId>...</postback>`; nested `<Labels><Label>a</Label>...`
    gives a list. The parser refuses DTDs' entity declarations and external references.
    Attributes are returned apart (a list item's under its list's tag): dropped here, one that
    says a price's currency was published as if absent."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise UnreadableBody(
            f"XML refused: {type(exc).__name__} (DTDs and entities are not allowed)"
        ) from exc
    except ParseError as exc:
        raise UnreadableBody(f"body is not well-formed XML: {exc}") from exc
    except (ValueError, LookupError) as exc:
        # expat hands the declared encoding to Python's codecs: a multi-byte one (UTF-7,
        # Shift-JIS) is a ValueError, an unknown or non-text one (zlib) a LookupError.
        raise UnreadableBody(f"XML declares an encoding that cannot be read: {exc}") from exc
    if len(root) > MAX_FIELDS:
        raise _too_many(len(root))
    points: dict[str, RawValue] = {}
    attributes = _attributes(None, root.attrib, True)
    for child in root:
        tag = _local(child.tag)
        items = list(child)
        if len(items) > MAX_FIELDS:
            raise _too_many(len(items))
        if child.attrib:
            attributes += _attributes(tag, child.attrib, _has_text(child.text))
        if not items:
            _add(points, tag, child.text or "")
            continue
        # A list's items are its elements' text, nothing else: text beside them or under a
        # deeper element was dropped silently, and a second list of the same name replaced the
        # first's items (each now refused, or kept, in order).
        if _has_text(child.text) or any(_has_text(item.tail) or len(item) for item in items):
            raise UnreadableBody(
                f"XML element {tag[:64]!r} mixes text and elements, or nests deeper"
            )
        for item in items:
            if item.attrib:
                attributes += _attributes(tag, item.attrib, _has_text(item.text))
        values = [(item.text or "").strip() for item in items]
        existing = points.get(tag)
        if existing is None:
            points[tag] = values
        elif isinstance(existing, list):
            existing.extend(values)
        else:
            points[tag] = [existing, *values]
    if len(attributes) > MAX_FIELDS:  # (each attribute a field too)
        raise _too_many(len(attributes))
    return points, attributes


def _has_text(text: str | None) -> bool:
    return text is not None and bool(text.strip())


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(content_type: str | None, body: bytes) -> dict[str, RawValue]:
    """The data points of `read_body`, without an XML body's attributes."""
    return read_body(content_type, body)[0]


def read_body(content_type: str | None, body: bytes) -> tuple[dict[str, RawValue], list[Attribute]]:
    """A body's data points, and its attributes if it is XML (none otherwise)."""
    kind = media_type(content_type)
    if kind == JSON:
        return from_json(body), []
    if kind == FORM:
        return from_form(body), []
    if kind in XML_TYPES:
        return xml_document(body)
    raise UnreadableBody(
        f"unsupported content type {kind or '(none)'!r}; accepted: {', '.join(ACCEPTED_TYPES)}", 415
    )
