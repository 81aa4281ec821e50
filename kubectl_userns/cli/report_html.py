"""The plan as one self-contained HTML page (``plan -o html``): no network, no external script,
style sheet or font. A summary, each node's ID space drawn as a bar with every pod's slot on it
(the picture an operator draws when a mapping looks wrong), the sortable workload table with
its blockers, and the audit's findings.

Every string from the cluster is escaped (html.escape) before it reaches the page: pod names,
commands and messages are tenant-controlled.
"""

from __future__ import annotations

from html import escape
from typing import Any

# nothing may load from anywhere: inline style and script only
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
BAR_WIDTH = 960  # px of the ID-space bar in the SVG's own coordinates
BAR_HEIGHT = 28
MIN_SLOT = 3  # px: a slot is never drawn thinner than this

STYLE = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 24px; color: #1f2328; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.sub { color: var(--muted); margin-bottom: 18px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: var(--bg); border-radius: 8px; padding: 12px 16px; min-width: 150px; }
.card b { display: block; font-size: 26px; }
.card.ok b { color: var(--ok); } .card.bad b { color: var(--bad); }
.card.warn b { color: var(--warn); }
.node { background: var(--bg); border-radius: 8px; padding: 12px 16px; margin: 10px 0; }
.node svg { width: 100%; height: auto; display: block; }
.pool { fill: #d0d7de; } .beyond { fill: #fff; stroke: #d0d7de; stroke-dasharray: 2 2; }
.slot { stroke: #fff; stroke-width: 0.5; }
.slot.isolated { fill: var(--ok); } .slot.overlap { fill: var(--bad); }
.slot.not-isolated { fill: var(--warn); }
/* kubelet records without a probed pod: a dashed outline, not a colour alone */
.slot.stale { fill: #ffebe9; stroke: var(--bad); stroke-width: 2; stroke-dasharray: 4 2; }
.slot.recorded { fill: #eaeef2; stroke: var(--muted); stroke-width: 1.5;
                 stroke-dasharray: 2 2; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; margin: 4px 0 8px; font-size: 12px;
          color: var(--muted); list-style: none; padding: 0; }
.legend svg { width: 22px; height: 12px; vertical-align: -2px; display: inline; }
.axis { fill: var(--muted); font-size: 11px; }
.chips span { display: inline-block; background: #fff; border: 1px solid #d0d7de;
              border-radius: 12px; padding: 1px 8px; margin: 2px; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d0d7de;
         vertical-align: top; }
th { cursor: pointer; user-select: none; background: var(--bg); }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
.state-isolated { color: var(--ok); } .state-not-isolated { color: var(--bad); }
.state-host-userns { color: var(--warn); } .state-unverified { color: var(--muted); }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--bg);
       padding: 1px 4px; border-radius: 4px; word-break: break-all; }
ul.blockers { margin: 0; padding-left: 16px; }
"""

SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.sort || a.cells[column].textContent;
      var y = b.cells[column].dataset.sort || b.cells[column].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _pixels(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The node's slots with their place on the bar in the SVG's coordinates."""
    span = max(1, node["high"] - node["low"] + 1)
    return [
        {
            **slot,
            "x": round((slot["start"] - node["low"]) / span * BAR_WIDTH, 2),
            "width": round(max(MIN_SLOT, (slot["end"] - slot["start"] + 1) / span * BAR_WIDTH), 2),
        }
        for slot in node["slots"]
    ]


# what each slot state means, for the legend and the slots' titles
STATES = {
    "isolated": "isolated pod",
    "not-isolated": "pod asking for a user namespace, not isolated",
    "overlap": "pods sharing host IDs",
    "stale": "stale kubelet record: no such pod in the API, its IDs still reserved",
    "recorded": "kubelet record of a pod not probed here",
}


def _legend() -> str:
    items = "".join(
        f'<li data-state="{state}"><svg viewBox="0 0 22 12" aria-hidden="true">'
        f'<rect class="slot {state}" x="1" y="1" width="20" height="10"/></svg> '
        f"{escape(text)}</li>"
        for state, text in STATES.items()
    )
    return f'<ul class="legend" id="legend" aria-label="Slot legend">{items}</ul>'


def _slot_title(s: dict[str, Any]) -> str:
    ids = f"host IDs {s['start']}-{s['end']}"
    if s["state"] not in ("stale", "recorded"):
        return f"{s['pod']}: {ids} ({s['state']})"
    whose = f"pod {s['pod']} (UID {s['uid']})" if s["pod"] else f"pod UID {s['uid']}"
    title = f"kubelet record of {whose}: {ids} ({STATES[s['state']]})"
    if s.get("inPool") is False:
        title += (
            f"; outside the kubelet's pool: the kubelet's next start fails on it (id {s['start']} "
            "is out of range)"
        )
    return title


def _svg(node: dict[str, Any]) -> str:
    parts = [
        f'<svg viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT + 18}" role="img" '
        f'aria-label="ID space of node {escape(node["node"])}">',
        f'<rect class="pool" x="0" y="0" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" rx="3"/>',
    ]
    # the parts of the bar outside the kubelet's pool (the bar is widened to every slot)
    found = node.get("pool") or {}
    if node["poolKnown"]:
        span = max(1, node["high"] - node["low"] + 1)
        for start, end in ((node["low"], found["first"] - 1), (found["last"] + 1, node["high"])):
            if end >= start:
                x = round((start - node["low"]) / span * BAR_WIDTH, 2)
                width = round((end - start + 1) / span * BAR_WIDTH, 2)
                parts.append(
                    f'<rect class="beyond" x="{x}" y="0" width="{width}" height="{BAR_HEIGHT}">'
                    f"<title>host IDs {start}-{end}: outside the kubelet's pool</title></rect>"
                )
    for s in _pixels(node):
        parts.append(
            f'<rect class="slot {escape(s["state"])}" x="{s["x"]}" y="0" '
            f'width="{s["width"]}" height="{BAR_HEIGHT}" data-pod="{escape(s["pod"] or "")}" '
            f'data-uid="{escape(s.get("uid") or "")}" data-state="{escape(s["state"])}" '
            f'data-start="{s["start"]}" data-end="{s["end"]}">'
            f"<title>{escape(_slot_title(s))}</title></rect>"
        )
    parts.append(f'<text class="axis" x="0" y="{BAR_HEIGHT + 14}">{node["low"]}</text>')
    parts.append(
        f'<text class="axis" x="{BAR_WIDTH}" y="{BAR_HEIGHT + 14}" text-anchor="end">'
        f"{node['high']}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _workload_row(w: dict[str, Any]) -> str:
    def item(b: dict[str, str]) -> str:
        return f"<li><code>{escape(b['field'])}</code> {escape(b['reason'])}</li>"

    blockers = [item(b) for b in w["blockers"]]
    if w["notReadyNodes"]:
        blockers.append(f"<li>nodes not ready: {escape(', '.join(w['notReadyNodes']))}</li>")
    warnings = [item(b) for b in w["warnings"]]
    failed = ", ".join(w["failedChecks"])
    cells = [
        escape(w["namespace"]),
        f"{escape(w['kind'])}/{escape(w['name'])}",
        f'<td data-sort="{len(w["pods"])}">{len(w["pods"])}</td>',
        f'<span class="state-{escape(w["state"])}">{escape(w["state"])}</span>'
        + (f"<br>fails {escape(failed)}" if failed else ""),
        escape(w["readiness"] or "-"),
        (f'<ul class="blockers">{"".join(blockers)}</ul>' if blockers else "-")
        + (f'<ul class="blockers">{"".join(warnings)}</ul>' if warnings else ""),
        f"<code>{escape(w['convertCommand'])}</code>" if w["convertCommand"] else "-",
    ]
    tds = "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells)
    return f'<tr data-state="{escape(w["state"])}">{tds}</tr>'


def _slot_count(slots: list[dict[str, Any]]) -> str:
    records = {"stale", "recorded"}
    text = f"{sum(1 for s in slots if s['state'] not in records)} pod slot(s)"
    stale = sum(1 for s in slots if s["state"] == "stale")
    recorded = sum(1 for s in slots if s["state"] == "recorded")
    if stale:
        text += f", {stale} stale kubelet record(s)"
    if recorded:
        text += f", {recorded} record(s) of pods not probed"
    return text


def render_html(plan: dict[str, Any], audit: dict[str, Any] | None) -> str:
    s = plan["summary"]
    cards = [
        ("ok", s["isolated"], "isolated"),
        ("ok", s["convertible"], "convertible"),
        ("warn", s["blocked"], "blocked"),
        ("bad", s["notIsolated"], "not isolated"),
    ]
    if s["unverified"]:
        cards.append(("", s["unverified"], "not verified"))
    card_html = "".join(
        f'<div class="card {cls}" data-count="{escape(label)}"><b>{n}</b>{escape(label)}</div>'
        for cls, n, label in cards
    )
    nodes_html = []
    for node in plan.get("idSpace") or []:
        pool = "the kubelet's pool" if node["poolKnown"] else "the pods' ranges (pool unknown)"
        found = node.get("pool") or {}
        if node["poolKnown"] and (found["first"], found["last"]) != (node["low"], node["high"]):
            pool = (
                f"the kubelet's pool {found['first']}-{found['last']} and the slots outside it "
                "(white: outside the pool)"
            )
        chips = "".join(f"<span>{escape(p)}</span>" for p in node["hostPods"])
        nodes_html.append(
            f'<div class="node" data-node="{escape(node["node"])}" data-low="{node["low"]}" '
            f'data-high="{node["high"]}"><b>{escape(node["node"])}</b> - host IDs '
            f"{node['low']}-{node['high']}, {pool}; {_slot_count(node['slots'])}"
            f"{_svg(node)}"
            + (f'<div class="chips">host user namespace: {chips}</div>' if chips else "")
            + "</div>"
        )
    if not nodes_html:
        nodes_html.append(
            '<p class="sub">The nodes were not probed: run <code>kubectl userns plan --verify '
            "-o html</code> to draw their ID spaces.</p>"
        )
    findings = [
        f"<tr><td>{escape(f['severity'])}</td><td>{escape(f['kind'])}</td>"
        f"<td>{escape(f['node'])}</td><td>{escape(', '.join(f['pods']))}</td>"
        f"<td>{escape(f['detail'])}</td></tr>"
        for f in (audit or {}).get("findings", [])
    ]
    findings_html = (
        '<table class="sortable" id="findings"><thead><tr><th>Result</th><th>Finding</th>'
        "<th>Node</th><th>Pods</th><th>Detail</th></tr></thead><tbody>"
        + "".join(findings)
        + "</tbody></table>"
        if findings
        else '<p class="sub">No findings.</p>'
    )
    rows = "".join(_workload_row(w) for w in plan["workloads"])
    verified = "verified on the nodes" if plan["verified"] else "from the API only"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>User namespaces: migration plan</title>
<style>{STYLE}</style>
</head>
<body>
<h1>User namespaces: migration plan</h1>
<div class="sub">{s["workloads"]} workload(s), {s["pods"]} pod(s), {verified}</div>
<div class="cards" id="summary">{card_html}</div>
<h2>ID space per node</h2>
{_legend() if plan.get("idSpace") else ""}
<div id="nodes">{"".join(nodes_html)}</div>
<h2>Workloads</h2>
<table class="sortable" id="workloads"><thead><tr><th>Namespace</th><th>Workload</th><th>Pods</th>
<th>State</th><th>Readiness</th><th>Blockers and warnings</th><th>Convert</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>Findings</h2>
{findings_html}
<script>{SCRIPT}</script>
</body>
</html>
"""
