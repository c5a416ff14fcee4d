"""The status page's HTML, rendered from known figures: what it says, escaped, self-contained."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from catalog_contract.lag import partition_lags
from projector.delivery import DeliveryStats
from projector.status_page import StatusView, change_text, duration, render
from tests.unit.test_delivery import NOW_S, feed, postback


class Outline(HTMLParser):
    """Headings, attributes that load something, and the text of each table row."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.loads: list[str] = []
        self.rows: list[list[str]] = []
        self.lang: str | None = None
        self._heading = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        self.loads += [v or "" for k, v in attrs if k in ("src", "href", "action")]
        self._heading = tag in ("h1", "h2")
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        self._heading = False

    def handle_data(self, data: str) -> None:
        if self._heading:
            self.headings.append(data)
        if self._cell is not None:
            self._cell.append(data)


def example() -> StatusView:
    stats = DeliveryStats()
    feed(stats, *(postback(n, "late<1>", delay_s=900) for n in range(5)))
    feed(stats, *(postback(10 + n, "quiet", ago_s=3 * 3600) for n in range(30)))
    catalogs = [
        {"catalog_id": c, "item_count": n, "in_stock": n - 1, "out_of_stock": 1}
        for c, n in (("ok", 1200), ("quiet", 30), ("late<1>", 5))
    ]
    return StatusView(
        now_s=NOW_S,
        partitions=partition_lags({0: 1500, 1: 20}, {0: 1500}),
        ready=False,
        dead_letters=None,
        restatements=7,
        per_minute=stats.per_minute(NOW_S),
        deliveries=stats.deliveries(NOW_S),
        catalogs=catalogs,
        recent_changes=[
            {
                "seq": 9,
                "kind": "price_drop",
                "catalog_id": "ok",
                "item_id": "<i>",
                "old": "2",
                "new": "1",
            }
        ],
        last_seq=9,
        restatements_owed=3,
    )


def test_the_page_says_the_figures_and_marks_late_and_silent_catalogs() -> None:
    page = render(example())
    outline = Outline()
    outline.feed(page)
    assert outline.lang == "en"
    assert outline.headings == [
        "catalog-stream status",
        "Pipeline",
        "Postbacks per minute, last hour",
        "Delivery delay per catalog, last hour",
        "Change feed (live)",
        "Catalogs",
    ]
    assert ["0", "1,500", "1,500", "0"] in outline.rows
    assert ["1", "20", "\u2013", "20"] in outline.rows  # no position yet: all of it is lag
    assert ["all", "1,520", "1,500", "20"] in outline.rows
    catalog_rows = [r for r in outline.rows if len(r) == 7][1:]  # after the header
    assert [(r[0], r[1], r[4], r[5], r[6]) for r in catalog_rows] == [
        ("late<1>", "5", "15 min", "5", "late"),
        ("quiet", "30", "\u2013", "0", "silent"),
        ("ok", "1,200", "\u2013", "0", "ok"),
    ]
    assert 'id="ready">catching up<' in page
    assert 'id="dead-letters">unknown<' in page
    assert 'id="restatements">7<' in page
    assert 'id="restatements-owed">3<' in page
    assert 'data-after="9"' in page


def test_everything_is_escaped_and_nothing_is_loaded_from_elsewhere() -> None:
    page = render(example())
    assert "late<1>" not in page
    assert "late&lt;1&gt;" in page
    assert "<i>" not in page
    outline = Outline()
    outline.feed(page)
    assert outline.loads == ["data:,"]  # the empty favicon: no request at all
    assert not re.search(r"https?://|url\(", page)


def test_the_feed_and_durations_read_as_text() -> None:
    assert change_text({"kind": "price_drop", "catalog_id": "42", "item_id": "a", "old": "2",
                        "new": "1"}) == "price drop: catalog 42, item a (2 \u2192 1)"  # fmt: skip
    assert change_text({"kind": "item_removed", "catalog_id": "42", "item_id": "a"}) == (
        "item removed: catalog 42, item a"
    )
    assert [duration(s) for s in (None, 30, 120, 5400, 90_000)] == [
        "\u2013", "30 s", "2 min", "1.5 h", "1.04 d",
    ]  # fmt: skip
