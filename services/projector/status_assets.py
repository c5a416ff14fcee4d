"""The status page's style and script, inlined into the page: it must work with no internet,
so nothing is fetched from anywhere but this projector."""

from __future__ import annotations

STYLE = """
:root { --ink: #1a1a1a; --muted: #4d4d4d; --line: #c9c9c9; --paper: #ffffff;
  --panel: #f4f5f7; --accent: #1f4e8c; --bad: #8a1111; --bad-bg: #fde7e7;
  --warn: #6b4400; --warn-bg: #fff1d6; --ok: #1d5e2a; --ok-bg: #e3f4e6; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: var(--paper); }
header, main { max-width: 1400px; margin: 0 auto; padding: 0.75rem 1rem; }
header { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: baseline;
  border-bottom: 1px solid var(--line); }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
main { display: grid; gap: 1rem; grid-template-columns: repeat(2, minmax(0, 1fr)); }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: 0.75rem 1rem; min-width: 0; }
section.wide { grid-column: 1 / -1; }
.figures { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; margin: 0 0 0.5rem;
  padding: 0; list-style: none; }
.figures b { display: block; font-size: 1.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); padding-bottom: 0.25rem; }
th, td { text-align: right; padding: 0.25rem 0.5rem; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
.badge { display: inline-block; padding: 0 0.4rem; border-radius: 4px; font-weight: 600; }
.late { color: var(--bad); background: var(--bad-bg); }
.silent { color: var(--warn); background: var(--warn-bg); }
.ok { color: var(--ok); background: var(--ok-bg); }
svg { width: 100%; height: auto; display: block; overflow: visible; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
.bar { fill: var(--accent); }
.p50 { fill: #5b8ad0; } .p95 { fill: #1f4e8c; } .p99 { fill: #0b2447; }
.limit { stroke: var(--bad); stroke-width: 2; stroke-dasharray: 4 3; }
.axis { stroke: var(--muted); stroke-width: 1; }
#feed { list-style: none; margin: 0; padding: 0; max-height: 24rem; overflow-y: auto; }
#feed li { padding: 0.25rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
#feed li.new { animation: flash 2s ease-out; }
@keyframes flash { from { background: #fff6b3; } to { background: transparent; } }
.muted { color: var(--muted); }
.legend span { margin-right: 1rem; }
.legend i { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.25rem;
  vertical-align: -0.1rem; }
@media (max-width: 800px) {
  main { grid-template-columns: minmax(0, 1fr); padding: 0.5rem; }
  section { padding: 0.5rem; }
  th, td { padding: 0.25rem 0.3rem; }
  svg text { font-size: 22px; }  /* the charts shrink to the screen: keep their labels legible */
}
"""

# The live feed: the existing change stream (Server-Sent Events), from the newest change the
# page was rendered with. EventSource reconnects by itself, sending Last-Event-ID.
SCRIPT = """
(function () {
  var feed = document.getElementById("feed");
  var state = document.getElementById("feed-state");
  var kinds = JSON.parse(feed.dataset.kinds);  // the view's change kinds, from the server
  var source = new EventSource("/v1/changes/stream?after=" + feed.dataset.after);
  function describe(change) {
    var text = change.kind.replace(/_/g, " ") + ": catalog " + change.catalog_id +
      ", item " + change.item_id;
    if (change.old !== null || change.new !== null) {
      text += " (" + (change.old === null ? "\\u2013" : change.old) + " \\u2192 " +
        (change.new === null ? "\\u2013" : change.new) + ")";
    }
    return text;
  }
  function show(message) {
    var change = JSON.parse(message.data);
    var item = document.createElement("li");
    item.className = "new";
    item.dataset.seq = change.seq;
    item.dataset.catalog = change.catalog_id;
    item.dataset.item = change.item_id;
    item.textContent = describe(change);
    feed.insertBefore(item, feed.firstChild);
    while (feed.children.length > 50) { feed.removeChild(feed.lastChild); }
    var empty = document.getElementById("feed-empty");
    if (empty) { empty.remove(); }
  }
  kinds.forEach(function (kind) { source.addEventListener(kind, show); });
  source.onopen = function () { state.textContent = "live"; };
  source.onerror = function () { state.textContent = "reconnecting\\u2026"; };
})();
"""
