"""A run's trace as one self-contained HTML page: a timeline of every job attempt, cost and
node-hours per rule and per sample, the slowest jobs, the failed and preempted attempts.

No script, no external URL: the page opens from a file, offline, years later. Every value from
the trace is escaped (rule names, wildcards and notes come from users)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from aml_bridge.model.trace_read import Attempt

CAVEAT = (
    "Costs are estimates: node time × the list price per node-hour of each VM size, region and "
    "tier (pay-as-you-go, no reservations, savings plans or negotiated discounts), compute only "
    "(no storage, egress, disks or the time idle nodes stay up before they are released)."
)
# Distinct on white and to most colour-blind readers (Okabe-Ito, then Tableau's muted tones)
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#8c564b",
    "#4e79a7",
    "#59a14f",
    "#b07aa1",
    "#9c755f",
    "#76b7b2",
)
SLOWEST = 10
COMPLETED, PREEMPTED = "Completed", "Preempted"

LABEL_W, PLOT_W, LANE_H, BAR_H, HEAD_H, AXIS_H = 230, 940, 18, 12, 20, 28
CHAR_W = 6.4  # px per character of the 11 px labels, to tell whether a label fits in its bar


@dataclass
class Usage:
    """What a group of attempts (a rule's, a sample's, the run's) cost."""

    jobs: set[int] = field(default_factory=set)
    attempts: int = 0
    unsuccessful: int = 0
    node_s: float = 0.0
    cost_usd: float = 0.0
    unpriced: int = 0

    def add(self, a: Attempt) -> None:
        self.jobs.add(a.jobid)
        self.attempts += 1
        self.unsuccessful += a.status != COMPLETED
        self.node_s += a.node_s or 0.0
        if a.cost_usd is None:
            self.unpriced += 1
        else:
            self.cost_usd += a.cost_usd


def usage_by(attempts: Iterable[Attempt], key: Callable[[Attempt], str]) -> dict[str, Usage]:
    groups: dict[str, Usage] = defaultdict(Usage)
    for a in attempts:
        groups[key(a)].add(a)
    return dict(sorted(groups.items(), key=lambda kv: (-kv[1].cost_usd, kv[0])))


def render(attempts: list[Attempt], run_id: str) -> str:
    """The page for these attempts (the trace's rows, in any order)."""
    colours = _rule_colours(attempts)
    total = Usage()
    for a in attempts:
        total.add(a)
    body = [
        f"<h1>Azure ML run {escape(run_id)}</h1>",
        _summary(attempts, total),
        f'<p class="caveat">{escape(CAVEAT)}</p>',
        "<h2>Timeline</h2>",
        _timeline(attempts, colours),
        "<h2>Cost and node-hours per rule</h2>",
        _usage_table("by-rule", "Rule", usage_by(attempts, lambda a: a.rule), total, colours),
        "<h2>Cost and node-hours per sample</h2>",
        _usage_table("by-sample", "Sample", usage_by(attempts, _sample_label), total),
        f"<h2>Slowest jobs (the {SLOWEST} longest attempts)</h2>",
        _slowest(attempts),
        "<h2>Failed attempts, preemptions and notes</h2>",
        _problems(attempts),
        "<h2>Every attempt</h2>",
        _all_attempts(attempts),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Run {escape(run_id)}: Azure ML report</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def multiqc_table(attempts: list[Attempt], run_id: str) -> str:
    """Cost per sample as MultiQC custom content (a `*_mqc.tsv` table section); the jobs of
    no sample (index, report) are named in the section's description, not left out silently."""
    groups = usage_by(attempts, lambda a: a.sample)
    shared = groups.pop("", None)
    note = f"Run {run_id}. {CAVEAT}"
    if shared:
        rules = sorted({a.rule for a in attempts if not a.sample})
        note += (
            f" Jobs of no sample ({', '.join(rules)}): {shared.node_s / 3600:.3f} node-hours, "
            f"${shared.cost_usd:.4f}, not in the rows."
        )
    unpriced = sum(a.cost_usd is None for a in attempts)
    if unpriced:
        note += f" {unpriced} attempt(s) without a cost (no price or node time) are not in it."
    yaml_note = note.replace("'", "''")
    lines = [
        "# id: 'aml_cost'",
        "# section_name: 'Azure ML cost (estimate)'",
        f"# description: '{yaml_note}'",
        "# plot_type: 'table'",
        "Sample\tNode-hours\tEst. cost (USD)\tAttempts\tNot completed",
    ]
    for sample, u in sorted(groups.items()):
        lines.append(
            f"{sample}\t{u.node_s / 3600:.3f}\t{u.cost_usd:.4f}\t{u.attempts}\t{u.unsuccessful}"
        )
    return "\n".join(lines) + "\n"


def _summary(attempts: list[Attempt], total: Usage) -> str:
    start, end = _span(attempts)
    last = {a.jobid: a for a in sorted(attempts, key=lambda a: a.attempt)}
    unfinished = sum(a.status != COMPLETED for a in last.values())
    preempted = sum(a.status == PREEMPTED for a in attempts)
    failed = sum(a.status not in (COMPLETED, PREEMPTED) for a in attempts)
    cost = f"${total.cost_usd:.4f}"
    if total.unpriced:
        cost += f" + {total.unpriced} attempt(s) without a cost (no price or node time)"
    items = [
        ("Run wall time", _duration((end - start).total_seconds()) if start else "unknown"),
        ("From", f"{start:%Y-%m-%d %H:%M:%S} UTC" if start else "unknown"),
        ("To", f"{end:%Y-%m-%d %H:%M:%S} UTC" if end else "unknown"),
        ("Node-hours", f"{total.node_s / 3600:.3f}"),
        ("Estimated cost", cost),
        ("Jobs", f"{len(last)} ({unfinished} not completed)" if unfinished else str(len(last))),
        ("Attempts", str(total.attempts)),
        ("Failed or canceled attempts", str(failed)),
        ("Preempted attempts", str(preempted)),
        ("Time queued (all attempts)", _duration(sum(a.queue_s or 0.0 for a in attempts))),
    ]
    cells = "".join(_el("div", html=_el("dt", k) + _el("dd", v)) for k, v in items)
    return _el("dl", html=cells, class_="totals", id="totals")


def _timeline(attempts: list[Attempt], colours: dict[str, str]) -> str:
    """One bar per attempt, in lanes per cluster: the lighter part is the queue time, the
    solid part the run. An attempt takes the first lane free from its submission on, else the
    first free from its start (its queue bar then begins where the lane's last bar ended: the
    members of a parallel step, all submitted at once, fill about one lane per node), else a
    new lane."""
    start, end = _span(attempts)
    placed = [a for a in attempts if a.submitted or a.started]
    if not start or not end or not placed:
        return "<p>No attempt has a time yet.</p>"
    span = max((end - start).total_seconds(), 1.0)

    def x(moment: datetime) -> float:
        return LABEL_W + (moment - start).total_seconds() / span * PLOT_W

    clusters: dict[str, list[Attempt]] = defaultdict(list)
    for a in sorted(placed, key=lambda a: (a.submitted or a.started, a.jobid, a.attempt)):
        clusters[a.cluster].append(a)
    parts, y = [], AXIS_H
    for cluster, members in sorted(clusters.items()):
        first = members[0]
        head = f"{cluster or 'unknown cluster'} ({first.vm_size or '?'}, {first.tier or '?'})"
        parts.append(_el("text", head, class_="cluster", x=4, y=y + 14))
        y += HEAD_H
        lanes: list[datetime] = []  # when each lane is free again
        for a in members:
            begin, finish = a.submitted or a.started, a.ended or end
            run_from = a.started or begin
            lane = next((i for i, free in enumerate(lanes) if free <= begin), None)
            if lane is None:
                lane = next((i for i, free in enumerate(lanes) if free <= run_from), len(lanes))
            queue_from = max(begin, lanes[lane]) if lane < len(lanes) else begin
            lanes[lane : lane + 1] = [finish]
            parts.append(_bar(a, x, y + lane * LANE_H, queue_from, finish, colours[a.rule]))
        for i in range(len(lanes)):
            parts.append(
                _el("text", f"lane {i + 1}", class_="lane", x=LABEL_W - 6, y=y + i * LANE_H + 11)
            )
        y += len(lanes) * LANE_H + 6
    height, width = y + 4, LABEL_W + PLOT_W + 20
    keys = [
        _el("span", html=_el("i", style=f"background:{c}") + escape(rule), class_="key")
        for rule, c in colours.items()
    ]
    keys += [
        _el("span", html=_el("i", class_=css) + escape(text), class_="key")
        for css, text in (
            ("queued", "queued (submitted → started)"),
            ("st-Failed", "failed"),
            ("st-Preempted", "preempted"),
        )
    ]
    svg = _el(
        "svg",
        html=_axis(span, height) + "".join(parts),
        id="timeline",
        xmlns="http://www.w3.org/2000/svg",
        width=width,
        height=height,
        viewBox=f"0 0 {width} {height}",
    )
    return _el("div", html="".join(keys), class_="legend", id="legend") + svg


def _bar(
    a: Attempt,
    x: Callable[[datetime], float],
    y: float,
    queue_from: datetime,
    finish: datetime,
    colour: str,
) -> str:
    top = round(y + (LANE_H - BAR_H) / 2, 1)
    shapes = []
    queued_until = a.started or finish  # never started: queued until it ended (or now)
    if a.submitted and queued_until > queue_from:
        width = max(x(queued_until) - x(queue_from), 1.0)
        shapes.append(_rect("queue", x(queue_from), top, width, colour))
    run_w = 0.0
    if a.started:
        run_x, run_w = x(a.started), max(x(finish) - x(a.started), 2.0)
        shapes.append(_rect(f"run st-{_css(a.status)}", run_x, top, run_w, colour))
        label = f"{a.rule} {a.sample}".strip() + (f" #{a.attempt}" if a.attempt > 1 else "")
        if run_w > len(label) * CHAR_W + 6:
            ink = "#1d2330" if _light(colour) else "#fff"
            shapes.append(
                _el(
                    "text",
                    label,
                    class_="in",
                    style=f"fill:{ink}",
                    x=f"{run_x + 3:.1f}",
                    y=top + 10,
                )
            )
    where = a.aml_job + (f" step {a.step}" if a.step else "")
    tip = (
        f"{a.job} attempt {a.attempt}: {_status(a)}\n{where} on {a.cluster}\n"
        f"queued {_duration(a.queue_s)}, ran {_duration(a.run_s)}, "
        f"{_hours(a.node_s)} node-h, {_usd(a.cost_usd)}" + (f"\n{a.note}" if a.note else "")
    )
    content = _el("title", tip) + "".join(shapes)
    return _el("g", html=content, class_="bar", data_job=a.jobid, data_attempt=a.attempt)


def _rect(css: str, x: float, y: float, width: float, colour: str) -> str:
    return _el(
        "rect", class_=css, x=f"{x:.1f}", y=y, width=f"{width:.1f}", height=BAR_H, fill=colour
    )


def _axis(span: float, height: float) -> str:
    step = next((s for s in TICKS if span / s <= 10), TICKS[-1])
    ticks, t = [], 0
    while t <= span:
        px = f"{LABEL_W + t / span * PLOT_W:.1f}"
        ticks.append(_el("line", class_="grid", x1=px, x2=px, y1=AXIS_H - 6, y2=height))
        ticks.append(_el("text", _clock(t), class_="tick", x=px, y=AXIS_H - 10))
        t += step
    return "".join(ticks)


TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)


def _usage_table(
    table_id: str, what: str, groups: dict[str, Usage], total: Usage, colours=None
) -> str:
    heads = (
        what,
        "Jobs",
        "Attempts",
        "Not completed",
        "Node-hours",
        "Est. cost (USD)",
        "Share of cost",
    )
    rows = []
    for name, u in groups.items():
        share = u.cost_usd / total.cost_usd if total.cost_usd else 0.0
        swatch = _el("i", class_="sw", style=f"background:{colours[name]}") if colours else ""
        bar = _el("span", class_="share", style=f"width:{share * 100:.1f}px") + f" {share:.0%}"
        rows.append(
            _el(
                "tr",
                html=_el("td", html=swatch + escape(name)) + _usage_cells(u) + _el("td", html=bar),
            )
        )
    foot = _el("tr", html=_el("td", "Total") + _usage_cells(total) + "<td></td>", class_="total")
    return _el(
        "table",
        html=_el("thead", html=_el("tr", html="".join(_el("th", h) for h in heads)))
        + _el("tbody", html="".join(rows))
        + _el("tfoot", html=foot),
        id=table_id,
    )


def _usage_cells(u: Usage) -> str:
    cost = f"{u.cost_usd:.4f}" + (f" + {u.unpriced} without" if u.unpriced else "")
    numbers = (len(u.jobs), u.attempts, u.unsuccessful, f"{u.node_s / 3600:.3f}")
    return "".join(_el("td", str(n), class_="n") for n in numbers) + _el(
        "td", cost, class_="n cost"
    )


def _slowest(attempts: list[Attempt]) -> str:
    slow = sorted((a for a in attempts if a.run_s is not None), key=lambda a: -(a.run_s or 0))
    columns = ("job", "attempt", "status", "where", "queued", "ran", "node-h", "cost")
    return _attempt_table("slowest", slow[:SLOWEST], columns)


def _problems(attempts: list[Attempt]) -> str:
    rows = [a for a in _ordered(attempts) if a.status != COMPLETED or a.note]
    if not rows:
        return _el("p", "Every attempt completed, without a note.", id="problems")
    columns = ("job", "attempt", "status", "where", "ran", "cost", "note")
    return _attempt_table("problems", rows, columns)


def _all_attempts(attempts: list[Attempt]) -> str:
    columns = (
        "jobid",
        "job",
        "attempt",
        "status",
        "where",
        "submitted",
        "queued",
        "ran",
        "node-h",
        "cost",
        "note",
    )
    table = _attempt_table("attempts", _ordered(attempts), columns)
    return _el("details", html=_el("summary", f"{len(attempts)} attempts") + table)


def _status(a: Attempt) -> str:
    return a.status or "unknown"  # a trace read while the job runs, or never seen to end


def _where(a: Attempt) -> str:
    job = a.aml_job + (f" / {a.step}" if a.step else "")
    return f"{job} · {a.cluster} ({a.tier or '?'}, {a.nodes or '?'} node(s))"


CELLS: dict[str, tuple[str, Callable[[Attempt], str]]] = {
    "jobid": ("Job id", lambda a: str(a.jobid)),
    "job": ("Job", lambda a: a.job),
    "attempt": ("Attempt", lambda a: str(a.attempt)),
    "status": ("Status", _status),
    "where": ("Azure ML job · cluster", _where),
    "submitted": (
        "Submitted (UTC)",
        lambda a: f"{a.submitted:%Y-%m-%d %H:%M:%S}" if a.submitted else "",
    ),
    "queued": ("Queued", lambda a: _duration(a.queue_s)),
    "ran": ("Ran", lambda a: _duration(a.run_s)),
    "node-h": ("Node-hours", lambda a: _hours(a.node_s)),
    "cost": ("Est. cost", lambda a: _usd(a.cost_usd)),
    "note": ("Note", lambda a: a.note),
}


def _attempt_table(table_id: str, rows: Iterable[Attempt], columns: tuple[str, ...]) -> str:
    head = _el("tr", html="".join(_el("th", CELLS[c][0]) for c in columns))
    body = "".join(
        _el(
            "tr",
            html="".join(_el("td", CELLS[c][1](a), class_=f"c-{c}") for c in columns),
            class_=f"st-{_css(a.status)}",
        )
        for a in rows
    )
    return _el("table", html=_el("thead", html=head) + _el("tbody", html=body), id=table_id)


def _el(tag: str, text: str = "", *, html: str | None = None, **attrs: object) -> str:
    """An element with `text` (escaped) or `html` (markup made here) inside. Attribute values
    are escaped; names: `class_` is class, other `_` are `-` (data_job: data-job)."""
    names = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items()
    )
    return f"<{tag}{names}>{escape(text) if html is None else html}</{tag}>"


def _ordered(attempts: Iterable[Attempt]) -> list[Attempt]:
    return sorted(attempts, key=lambda a: (a.jobid, a.attempt))


def _span(attempts: list[Attempt]) -> tuple[datetime | None, datetime | None]:
    moments = [m for a in attempts for m in (a.submitted, a.started, a.ended) if m]
    return (min(moments), max(moments)) if moments else (None, None)


def _rule_colours(attempts: list[Attempt]) -> dict[str, str]:
    """Colour per rule, in the order the rules first ran."""
    first: dict[str, datetime | None] = {}
    for a in attempts:
        moment = a.submitted or a.started
        if a.rule not in first or (moment and (first[a.rule] is None or moment < first[a.rule])):
            first[a.rule] = moment
    order = sorted(first, key=lambda r: (first[r] is None, first[r] or datetime.max, r))
    return {rule: PALETTE[i % len(PALETTE)] for i, rule in enumerate(order)}


def _light(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b > 150


def _sample_label(a: Attempt) -> str:
    return a.sample or "(no sample)"


def _css(status: str) -> str:
    return "".join(ch for ch in status if ch.isalnum()) or "unknown"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _clock(seconds: float) -> str:
    s = round(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _hours(node_s: float | None) -> str:
    return "" if node_s is None else f"{node_s / 3600:.3f}"


def _usd(cost: float | None) -> str:
    return "no price" if cost is None else f"${cost:.4f}"


STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;
margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px}
.totals{display:flex;flex-wrap:wrap;gap:8px;margin:0}
.totals div{border:1px solid #d5dae3;border-radius:6px;padding:6px 12px;background:#f6f8fb}
.totals dt{font-size:12px;color:#5a6475}.totals dd{margin:0;font-weight:600}
.caveat{color:#5a6475;font-size:12.5px;max-width:1100px}
table{border-collapse:collapse;margin:4px 0;font-size:13px}
th,td{border-bottom:1px solid #e3e7ee;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f3f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
tfoot td{font-weight:600;border-top:2px solid #b9c1cf}
tr.st-Failed td{background:#fdecec}tr.st-Preempted td{background:#fff4e0}
.c-note{max-width:420px;white-space:pre-wrap}
.c-queued,.c-ran,.c-node-h,.c-cost,.c-submitted,.c-status{white-space:nowrap}
.share{display:inline-block;height:9px;background:#7f8da6;vertical-align:middle}
.sw,.key i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px;
border-radius:2px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12.5px;margin-bottom:4px}
.key i.queued{background:#7f8da6;opacity:.35}
.key i.st-Failed{border:2px solid #c62828;width:8px;height:8px}
.key i.st-Preempted{border:2px dashed #ef6c00;width:8px;height:8px}
svg text{font-size:11px;fill:#1d2330}text.cluster{font-weight:600;font-size:12px}
text.lane{text-anchor:end;fill:#7a8496}text.tick{text-anchor:middle;fill:#5a6475}
text.in{pointer-events:none}line.grid{stroke:#e6e9ef}
rect.queue{opacity:.3}rect.run{stroke:#fff;stroke-width:1}rect.st-Failed{stroke:#c62828;stroke-width:2}
rect.st-Preempted{stroke:#ef6c00;stroke-width:2;stroke-dasharray:4 2}
rect.st-Canceled,rect.st-NotStarted{stroke:#5a6475;stroke-width:1.5}
g.bar:hover rect{filter:brightness(.9)}
details summary{cursor:pointer;color:#2b5ea7}
"""
