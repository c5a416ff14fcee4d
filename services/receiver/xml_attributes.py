"""An XML body's attributes, read with the template's field map. Pure.

The partner writes the body's template, placeholders anywhere: an attribute may carry a data
point (`<postback CatalogId="{CatalogId}">`) or qualify one (`<CurrentPrice currency="EUR">`).
Each is read as the JSON and form paths read the same information, or refused by name; none is
dropped silently when it could change what is published (`12.99` with `currency="EUR"` was
published in the other currency, a wrong 200 the platform never retries).
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog_contract.item_fields import ITEM_FIELDS, FieldKind
from receiver.errors import FieldProblem, InvalidPostback
from receiver.formats import Attribute
from receiver.postback import data_point_name
from receiver.values import RawValue

_PRICES = frozenset(field.data_point for field in ITEM_FIELDS if field.kind is FieldKind.PRICE)


def with_attributes(
    points: dict[str, RawValue], attributes: list[Attribute], field_map: Mapping[str, str]
) -> dict[str, RawValue]:
    """`points` (a copy, when changed) with what the attributes say:

    - a `Currency` attribute of a price holding a value is the code written beside it, as
      `12.99 EUR` is in JSON (it must agree with `Currency`, or is the currency);
    - an attribute named as a data point (by the field map, in any case) is that data point, as
      an element of its name is (so one given both ways is refused, as two keys are);
    - any other attribute of a data point's element that holds a value is refused (422 naming
      the element and the attribute): it may say what the value means (`unit="cents"`);
    - the rest (the root's, an element's that is no data point, an empty element's; `xml:*`
      are not even listed) says nothing of a value, and is ignored as an element that is no
      data point is."""
    if not attributes:  # the usual case
        return points
    points = dict(points)
    problems: list[FieldProblem] = []
    for element, name, value, holds_value in attributes:
        named = data_point_name(name, field_map)
        qualified = None if element is None else data_point_name(element, field_map)
        if named == "Currency" and qualified in _PRICES and element is not None:
            price = points[element]
            # (a repeated price is a list, refused by the price's own reading whatever its code)
            if holds_value and value.strip() and isinstance(price, str):
                points[element] = f"{price.strip()} {value.strip()}"
        elif named is not None:
            existing = points.get(name)
            if existing is None:
                points[name] = value
            else:  # as a repeated key: every value, refused where one is expected
                points[name] = [*([existing] if isinstance(existing, str) else existing), value]
        elif qualified is not None and element is not None and holds_value:
            problems.append(
                FieldProblem(
                    element[:64],
                    f"XML attribute {name[:64]!r} is not read: write what it says as an element",
                )
            )
    if problems:
        raise InvalidPostback(problems)
    return points
