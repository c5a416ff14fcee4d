"""The status page at `/`: server-rendered HTML with inline SVG charts, style and script. Pure:
the routes gather a `StatusView`, this turns it into text. Every value is escaped."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from catalog_contract.lag import PartitionLag
from projector.delivery import CatalogDelivery
from projector.delivery_slots import BOUNDS_S, LATE_S
from projector.item_state import ChangeKind
from projector.status_assets import SCRIPT, STYLE

MAX_CHART_CATALOGS = 12  # the delay chart: late catalogs first, then the busiest
MAX_TABLE_CATALOGS = 200
DASH = "\u2013"


@dataclass(frozen=True)
class StatusView:
    now_s: float
    partitions: Sequence[PartitionLag]
    ready: bool
    dead_letters: int | None
    restatements: int
    per_minute: Sequence[int]  # the last 60 minutes, oldest first
    deliveries: Sequence[CatalogDelivery]
    catalogs: Sequence[dict[str, Any]]  # the store's catalog rows
    recent_changes: Sequence[dict[str, Any]]  # newest first
    last_seq: int
    restatements_owed: int = 0  # failed writes, to be written again (restatement_retry.py)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def age(seconds: float) -> str:
    """Whole units, for "... ago"."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{max(0, int(seconds))} s"


def moment(at_s: float | None, now_s: float) -> str:
    if at_s is None:
        return '<span class="muted">none since start</span>'
    stamp = datetime.fromtimestamp(at_s, UTC).isoformat(timespec="seconds")
    return f'<time datetime="{stamp}" title="{stamp}">{age(now_s - at_s)} ago</time>'


def state(delivery: CatalogDelivery | None) -> str:
    if delivery is not None and delivery.late():
        return "late"
    if delivery is not None and delivery.silent():
        return "silent"
    return "ok"


_ORDER = {"late": 0, "silent": 1, "ok": 2}


def render(view: StatusView) -> str:
    by_catalog = {d.catalog_id: d for d in view.deliveries}
    stamp = datetime.fromtimestamp(view.now_s, UTC).isoformat(timespec="seconds")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>catalog-stream status</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>catalog-stream status</h1>
<p>Rendered <time datetime="{stamp}">{stamp}</time>; reload for fresh figures. Change feed:
<span id="feed-state" role="status">connecting\u2026</span></p>
</header>
<main>
{_pipeline(view)}
{_per_minute(view.per_minute)}
{_delay_chart(view.deliveries)}
{_feed(view)}
{_catalogs(view, by_catalog)}
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _pipeline(view: StatusView) -> str:
    end = sum(p.end for p in view.partitions)
    applied = sum(p.reached or 0 for p in view.partitions)
    lag = sum(p.lag for p in view.partitions)
    dead = "unknown" if view.dead_letters is None else f"{view.dead_letters:,}"
    rows = "".join(
        f"<tr><td>{p.partition}</td><td>{p.end:,}</td>"
        f"<td>{DASH if p.reached is None else f'{p.reached:,}'}</td><td>{p.lag:,}</td></tr>"
        for p in view.partitions
    )
    return f"""<section aria-labelledby="pipeline-h">
<h2 id="pipeline-h">Pipeline</h2>
<ul class="figures">
<li>state <b id="ready">{"ready" if view.ready else "catching up"}</b></li>
<li>lag <b id="lag">{lag:,}</b></li>
<li>dead letters <b id="dead-letters">{dead}</b></li>
<li>restatements <b id="restatements">{view.restatements:,}</b></li>
<li>restatements owed <b id="restatements-owed">{view.restatements_owed:,}</b></li>
</ul>
<div class="scroll" role="region" aria-label="offsets per partition" tabindex="0">
<table id="partitions"><caption>Topic end offsets against what the views applied</caption>
<thead><tr><th scope="col">partition</th><th scope="col">end offset</th>
<th scope="col">applied</th><th scope="col">lag</th></tr></thead>
<tbody>{rows}</tbody>
<tfoot><tr><th scope="row">all</th><td>{end:,}</td><td>{applied:,}</td><td>{lag:,}</td></tr>
</tfoot></table></div>
</section>"""


def _per_minute(counts: Sequence[int]) -> str:
    top = max(counts, default=0)
    width, height, bar = 600, 120, 10
    bars = "".join(
        f'<rect class="bar" x="{i * bar}" y="{height - h:.1f}" width="{bar - 2}" '
        f'height="{h:.1f}"><title>{60 - i} min ago: {n}</title></rect>'
        for i, n in enumerate(counts)
        for h in [0 if top == 0 else max(1.0, n / top * (height - 20)) if n else 0]
    )
    total = sum(counts)
    return f"""<section aria-labelledby="rate-h">
<h2 id="rate-h">Postbacks per minute, last hour</h2>
<svg viewBox="0 0 {width} {height + 16}" role="img" aria-labelledby="rate-t">
<title id="rate-t">{total:,} postbacks in the last hour, at most {top:,} in one minute</title>
{bars}<line class="axis" x1="0" y1="{height}" x2="{width}" y2="{height}"/>
<text x="0" y="{height + 14}">60 min ago</text>
<text x="{width}" y="{height + 14}" text-anchor="end">now</text>
<text x="0" y="12">max {top:,}/min</text></svg>
</section>"""


def _x(seconds: float, left: int, span: int) -> float:
    """Log scale from 1 s to the largest bound (1 day)."""
    top = math.log10(BOUNDS_S[-1])
    return left + span * min(1.0, math.log10(max(1.0, seconds)) / top)


def _delay_chart(deliveries: Sequence[CatalogDelivery]) -> str:
    shown = sorted(
        (d for d in deliveries if d.last_hour.with_delay),
        key=lambda d: (not d.late(), -d.last_hour.received, d.catalog_id),
    )[:MAX_CHART_CATALOGS]
    left, span, row = 150, 440, 34
    height = 30 + row * max(1, len(shown))
    rows = []
    for n, d in enumerate(shown):
        y = 24 + n * row
        rows.append(f'<text x="0" y="{y + 14}">{escape(d.catalog_id[:12])}</text>')
        for k, (name, value) in enumerate(
            (("p50", d.last_hour.p50_s), ("p95", d.last_hour.p95_s), ("p99", d.last_hour.p99_s))
        ):
            end = _x(value or 0, left, span)
            rows.append(
                f'<rect class="{name}" x="{left}" y="{y + k * 9}" width="{end - left:.1f}" '
                f'height="8"><title>catalog {escape(d.catalog_id)} {name}: '
                f"{duration(value)}</title></rect>"
            )
    limit = _x(LATE_S, left, span)
    ticks = "".join(
        f'<text x="{_x(s, left, span):.1f}" y="12" text-anchor="middle">{label}</text>'
        for s, label in ((1, "1 s"), (60, "1 min"), (3600, "1 h"), (86400, "1 d"))
    )
    empty = "" if shown else '<text x="150" y="45">no delays measured in the last hour</text>'
    return f"""<section aria-labelledby="delay-h">
<h2 id="delay-h">Delivery delay per catalog, last hour</h2>
<p class="legend"><span><i style="background:#5b8ad0"></i>p50</span>
<span><i style="background:#1f4e8c"></i>p95</span><span><i style="background:#0b2447"></i>p99
</span><span>dashed line: 10 minutes (the platform's promise)</span></p>
<svg viewBox="0 0 600 {height}" role="img" aria-labelledby="delay-t">
<title id="delay-t">Receive time minus DateLastUpdated, log scale, for {len(shown)} catalogs
</title>{ticks}{"".join(rows)}{empty}
<line class="limit" x1="{limit:.1f}" y1="16" x2="{limit:.1f}" y2="{height}"/></svg>
</section>"""


def change_text(change: dict[str, Any]) -> str:
    """One line of the feed; the page's script writes live ones the same way."""
    text = f"{str(change['kind']).replace('_', ' ')}: catalog {change['catalog_id']}, item "
    text += str(change["item_id"])
    old, new = change.get("old"), change.get("new")
    if old is not None or new is not None:
        text += f" ({DASH if old is None else old} \u2192 {DASH if new is None else new})"
    return text


def _feed(view: StatusView) -> str:
    items = "".join(
        f'<li data-seq="{c["seq"]}" data-catalog="{escape(str(c["catalog_id"]))}" '
        f'data-item="{escape(str(c["item_id"]))}">{escape(change_text(c))}</li>'
        for c in view.recent_changes
    )
    if not items:
        items = '<li id="feed-empty" class="muted">no changes yet</li>'
    kinds = escape(json.dumps([k.value for k in ChangeKind]))
    return f"""<section aria-labelledby="feed-h">
<h2 id="feed-h">Change feed (live)</h2>
<ol id="feed" aria-live="polite" data-after="{view.last_seq}" data-kinds="{kinds}">{items}</ol>
</section>"""


def _catalogs(view: StatusView, by_catalog: dict[str, CatalogDelivery]) -> str:
    rows = []
    ordered = sorted(
        view.catalogs,
        key=lambda r: (_ORDER[state(by_catalog.get(r["catalog_id"]))], r["catalog_id"]),
    )
    for row in ordered[:MAX_TABLE_CATALOGS]:
        found = by_catalog.get(row["catalog_id"])
        last = moment(found.last_received_s if found else None, view.now_s)
        rows.append(
            f'<tr data-catalog="{escape(row["catalog_id"])}">'
            f"<td>{escape(row['catalog_id'])}</td><td>{row['item_count']:,}</td>"
            f"<td>{row['in_stock']:,}</td><td>{last}</td>"
            f'<td class="p99">{duration(found.last_hour.p99_s if found else None)}</td>'
            f"<td>{found.last_hour.received if found else 0:,}</td>"
            f'<td><span class="badge {state(found)}">{state(found)}</span></td></tr>'
        )
    more = len(view.catalogs) - MAX_TABLE_CATALOGS
    note = f'<p class="muted">and {more:,} more catalogs (late and silent ones first)</p>'
    return f"""<section class="wide" aria-labelledby="catalogs-h">
<h2 id="catalogs-h">Catalogs</h2>
<div class="scroll" role="region" aria-label="catalogs" tabindex="0">
<table id="catalogs"><caption>Late: delivery p99 over 10 minutes in the last hour. Silent: none
for an hour from a catalog that sent 24 or more in the day.</caption>
<thead><tr><th scope="col">catalog</th><th scope="col">items</th><th scope="col">in stock</th>
<th scope="col">last postback</th><th scope="col">delay p99 (1 h)</th>
<th scope="col">postbacks (1 h)</th><th scope="col">state</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>{note if more > 0 else ""}
</section>"""
