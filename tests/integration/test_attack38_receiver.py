"""Stop 38's three receiver defects, through the real broker: a POST's query-string data point
was published as absent, an XML attribute naming a price's currency was published as absent
(12.99 in the other currency), and a secret split across CDATA sections was kept in full in the
dead-letter record. Each failed before (tests/unit/test_attack38_*.py say how, without Kafka).
"""

from __future__ import annotations

import pytest

from catalog_contract import codec, dead_letters
from tests.support import AUTH, SECRET, Topics, read_topic, receiver_settings, running_receiver

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
XML = {**AUTH, "Content-Type": "application/xml"}


async def test_query_points_attributes_and_split_secrets_through_kafka(
    kafka_bootstrap: str, topics: Topics
) -> None:
    half = len(SECRET) // 2
    split = f"<![CDATA[{SECRET[:half]}]]><![CDATA[{SECRET[half:]}]]>"
    async with running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver:
        from_query = await receiver.post(
            f"{PATH}?CurrentPrice=3", json={"CatalogId": "7", "CatalogItemId": "mug"}, headers=AUTH
        )
        in_eur = await receiver.post(
            PATH,
            content=b"<postback><CatalogId>7</CatalogId><CatalogItemId>cup</CatalogItemId>"
            b'<CurrentPrice currency="EUR">12.99</CurrentPrice></postback>',
            headers=XML,
        )
        refused = await receiver.post(
            PATH,
            content=f"<postback><CatalogId>7</CatalogId><Note>{split}</Note>"
            f"<CurrentPrice currency='EUR'>1</CurrentPrice><Currency>USD</Currency>"
            f"</postback>".encode(),
            headers=XML,
        )
    assert [from_query.status_code, in_eur.status_code, refused.status_code] == [200, 200, 422]
    events = [codec.decode(r.value) for r in await read_topic(kafka_bootstrap, topics.product)]
    prices = {(e.catalog_item_id, str(e.current_price), e.currency) for e in events}
    assert prices == {("mug", "3.0000", None), ("cup", "12.9900", "EUR")}
    assert refused.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {"CatalogItemId", "CurrentPrice"}  # (missing; in EUR, but Currency says USD)
    [letter] = [
        dead_letters.decode(r.value) for r in await read_topic(kafka_bootstrap, topics.dead_letter)
    ]
    assert SECRET[:half].encode() not in letter.body
    assert b"<Note>[redacted]</Note>" in letter.body
