"""`aml-genomics report`: a run's trace as one HTML page, rendered by a real headless browser
(Chromium) and read back from its DOM; the figures checked against sums of the trace itself."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from aml_bridge.admin.cli import main
from aml_bridge.admin.run_report import render
from aml_bridge.model.trace_read import COLUMNS, parse_trace

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests/data/trace/3f2a9c1e.tsv"  # 23 jobs, 27 attempts, 3 clusters
HOSTILE_NOTE = "<script>alert('x')</script>"
WINDOW = (1280, 2600)


def trace_rows(path: Path = FIXTURE) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def job_name(row: dict[str, str]) -> str:
    return f"{row['rule']}[{row['wildcards']}]" if row["wildcards"] else row["rule"]


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aml_bridge.admin.cli", "report", *args],
        cwd=workdir, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def report(capsys, monkeypatch, workdir: Path, *args: str) -> tuple[int, str, str]:
    """The command in this process (the tests that need no browser: quicker)."""
    monkeypatch.chdir(workdir)
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_dir(tmp: Path, *traces: Path) -> Path:
    """A workflow folder whose .snakemake/aml/trace/ holds these traces, oldest first."""
    folder = tmp / "wf"
    (folder / ".snakemake/aml/trace").mkdir(parents=True)
    for i, trace in enumerate(traces):
        copy = folder / ".snakemake/aml/trace" / trace.name
        shutil.copyfile(trace, copy)
        stamp = 1_800_000_000 + i * 60
        os.utime(copy, (stamp, stamp))
    return folder


class Dom(HTMLParser):
    """The page as a browser left it: every table's rows of cell texts, the timeline's bars,
    the colours of the legend, every tag seen."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = defaultdict(list)
        self.bars: list[tuple[str, str]] = []
        self.legend: dict[str, str] = {}
        self.tags: Counter = Counter()
        self.attributes: list[str] = []
        self.totals: dict[str, str] = {}
        self._table: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._key: str | None = None
        self._dt: list[str] | None = None
        self._last_dt = ""
        self._dd: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        self.attributes += [name for name, _ in attrs]
        if tag == "table":
            self._table.append(a.get("id", ""))
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "g" and a.get("class") == "bar":
            self.bars.append((a["data-job"], a["data-attempt"]))
        elif tag == "i" and not self._table and "background:" in (a.get("style") or ""):
            self._key = a["style"].removeprefix("background:")
        elif tag == "dt":
            self._dt = []
        elif tag == "dd":
            self._dd = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table.pop()
        elif tag == "tr" and self._row is not None:
            self.tables[self._table[-1]].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "span" and self._key:
            self._key = None
        elif tag == "dt" and self._dt is not None:
            self._last_dt, self._dt = "".join(self._dt), None
        elif tag == "dd" and self._dd is not None:
            self.totals[self._last_dt], self._dd = "".join(self._dd), None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._key and data.strip() and self._table == []:
            self.legend.setdefault(data.strip(), self._key)
        if self._dt is not None:
            self._dt.append(data)
        if self._dd is not None:
            self._dd.append(data)

    def table(self, table_id: str) -> list[dict[str, str]]:
        head, *rows = self.tables[table_id]
        return [dict(zip(head, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs Debian's chromium)")
    return path


def browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={profile}", *args],
        capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The page `aml-genomics report` writes for the fixture run, from its default places."""
    folder = run_dir(tmp_path_factory.mktemp("report"), FIXTURE)
    proc = cli(folder)
    assert proc.returncode == 0, proc.stderr
    html = folder / ".snakemake/aml/report/3f2a9c1e.html"
    assert f"Wrote {html.relative_to(folder)}" in proc.stdout
    return html


@pytest.fixture(scope="module")
def dom(page, chromium, tmp_path_factory) -> Dom:
    proc = browser(chromium, tmp_path_factory.mktemp("profile"), "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Dom(proc.stdout.decode())


def test_the_browser_draws_the_page_with_a_bar_in_each_rules_colour(page, dom, chromium, tmp_path):
    shot = tmp_path / "report.png"
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    proc = browser(chromium, tmp_path / "profile", f"--screenshot={shot}", size, page.as_uri())
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == WINDOW
        pixels = {rgb: n for n, rgb in image.convert("RGB").getcolors(maxcolors=1 << 24)}
    assert len(pixels) > 50, "a blank or near-blank screenshot"
    rules = {r["rule"] for r in trace_rows()}
    assert set(dom.legend) >= rules
    for rule in rules:
        rgb = tuple(int(dom.legend[rule][i : i + 2], 16) for i in (1, 3, 5))
        # more than the legend's and the rule table's 11 x 11 swatches: its bars are drawn
        assert pixels[rgb] > 2 * 11 * 11 + 50, (rule, dom.legend[rule], pixels[rgb])


def test_every_attempt_is_on_the_page_and_in_the_timeline(dom):
    rows = trace_rows()
    listed = {(r["Job id"], r["Attempt"]): r for r in dom.table("attempts")}
    assert len(listed) == len(rows) == len(dom.table("attempts"))
    for row in rows:
        shown = listed[(row["jobid"], row["attempt"])]
        assert shown["Job"] == job_name(row)
        assert shown["Status"] == row["status"]
        assert shown["Note"] == row["note"]
        assert row["aml_job"] in shown["Azure ML job · cluster"]
        assert row["cluster"] in shown["Azure ML job · cluster"]
    assert sorted(dom.bars) == sorted((r["jobid"], r["attempt"]) for r in rows)


@pytest.mark.parametrize(
    ("table", "column", "key"), [("by-rule", "Rule", "rule"), ("by-sample", "Sample", "sample")]
)
def test_cost_and_node_hours_per_rule_and_sample_are_the_sums_of_the_trace(dom, table, column, key):
    expected: dict[str, dict] = defaultdict(
        lambda: {"jobs": set(), "attempts": 0, "cost": 0.0, "node_s": 0.0}
    )
    for row in trace_rows():
        group = expected[row[key] or "(no sample)"]
        group["jobs"].add(row["jobid"])
        group["attempts"] += 1
        group["cost"] += float(row["cost_usd"])
        group["node_s"] += float(row["node_s"])
    shown = {r[column]: r for r in dom.table(table)}
    total = shown.pop("Total")
    assert set(shown) == set(expected)
    for name, want in expected.items():
        assert float(shown[name]["Est. cost (USD)"]) == pytest.approx(want["cost"], abs=5e-5)
        assert float(shown[name]["Node-hours"]) == pytest.approx(want["node_s"] / 3600, abs=5e-4)
        assert int(shown[name]["Jobs"]) == len(want["jobs"])
        assert int(shown[name]["Attempts"]) == want["attempts"]
    cost = sum(float(r["cost_usd"]) for r in trace_rows())
    assert float(total["Est. cost (USD)"]) == pytest.approx(cost, abs=5e-5)
    assert dom.totals["Estimated cost"] == f"${cost:.4f}"
    assert int(total["Attempts"]) == len(trace_rows())


def test_totals_span_the_run_and_count_its_failures_and_preemptions(dom):
    rows = trace_rows()
    moments = [datetime.fromisoformat(r[c]) for r in rows for c in ("submitted", "ended")]
    assert dom.totals["From"] == f"{min(moments):%Y-%m-%d %H:%M:%S} UTC"
    assert dom.totals["To"] == f"{max(moments):%Y-%m-%d %H:%M:%S} UTC"
    assert dom.totals["Jobs"] == str(len({r["jobid"] for r in rows}))
    assert dom.totals["Preempted attempts"] == str(sum(r["status"] == "Preempted" for r in rows))
    failed = sum(r["status"] == "Failed" for r in rows)
    assert dom.totals["Failed or canceled attempts"] == str(failed)
    node_h = sum(float(r["node_s"]) for r in rows) / 3600
    assert float(dom.totals["Node-hours"]) == pytest.approx(node_h, abs=5e-4)


def test_failed_and_preempted_attempts_and_notes_are_listed(dom):
    problems = dom.table("problems")
    expected = [r for r in trace_rows() if r["status"] != "Completed" or r["note"]]
    assert sorted((p["Job"], p["Attempt"], p["Status"], p["Note"]) for p in problems) == sorted(
        (job_name(r), r["attempt"], r["status"], r["note"]) for r in expected
    )
    assert {"Failed", "Preempted"} <= {p["Status"] for p in problems}


def test_a_hostile_note_is_text_and_the_page_needs_nothing_outside_it(page, dom):
    notes = [p["Note"] for p in dom.table("problems")]
    assert any(HOSTILE_NOTE in n for n in notes), notes
    assert dom.tags["script"] == 0
    assert not [a for a in dom.attributes if a.startswith("on")]
    text = page.read_text()
    assert "<script" not in text and "<link" not in text and " src=" not in text
    assert text.count("http") == text.count('xmlns="http://www.w3.org/2000/svg"')


def test_every_value_from_the_trace_is_escaped():
    hostile = {
        "rule": "r<b>x</b>", "wildcards": 'sample="><img src=x onerror=alert(1)>',
        "sample": '"><img src=x onerror=alert(1)>', "aml_job": "j&<i>", "step": "<u>s</u>",
        "cluster": "c'><svg onload=alert(2)>", "vm_size": "<em>v</em>", "status": "Fa<i>led",
        "note": "</td></tr></table><iframe src=x>",
    }  # fmt: skip
    base = dict(zip(COLUMNS, trace_rows()[0].values(), strict=True))
    text = "\t".join(COLUMNS) + "\n" + "\t".join((base | hostile)[c] for c in COLUMNS) + "\n"
    attempts = parse_trace(text, "hostile.tsv")
    dom = Dom(render(attempts, "<run&id>"))
    made = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "dl", "div"}
    made |= {"dt", "dd", "span", "i", "svg", "text", "line", "g", "rect", "table", "thead"}
    made |= {"tbody", "tfoot", "tr", "th", "td", "details", "summary"}
    assert set(dom.tags) <= made, set(dom.tags) - made
    assert not [a for a in dom.attributes if a.startswith("on")]
    assert dom.table("problems")[0]["Note"] == hostile["note"]
    assert dom.table("attempts")[0]["Job"] == f"{hostile['rule']}[{hostile['wildcards']}]"


def test_run_is_the_newest_trace_by_default_else_an_id_or_a_path(tmp_path, capsys, monkeypatch):
    older = tmp_path / "0a0a0a0a.tsv"
    rows = FIXTURE.read_text().splitlines()
    older.write_text("\n".join(rows[:3]) + "\n")  # two attempts
    folder = run_dir(tmp_path, older, FIXTURE)
    assert "27 attempts of run 3f2a9c1e" in report(capsys, monkeypatch, folder)[1]
    code, out, _ = report(capsys, monkeypatch, folder, "0a0a0a0a")
    assert code == 0 and "2 attempts of run 0a0a0a0a" in out
    assert (folder / ".snakemake/aml/report/0a0a0a0a.html").is_file()
    code, _, _ = report(capsys, monkeypatch, folder, str(older), "-o", "out/page.html")
    assert code == 0 and (folder / "out/page.html").is_file()
    code, _, err = report(capsys, monkeypatch, folder, "ffffffff")
    assert code == 2 and "'ffffffff'" in err and "(runs there: 0a0a0a0a, 3f2a9c1e)" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = report(capsys, monkeypatch, empty)
    assert code == 2 and "no trace in" in err


def test_a_trace_that_breaks_the_format_is_named_by_line_and_nothing_is_written(
    tmp_path, capsys, monkeypatch
):
    lines = FIXTURE.read_text().splitlines()
    fields = lines[4].split("\t")
    fields[COLUMNS.index("cost_usd")] = "0,12"
    bad = tmp_path / "bad.tsv"
    bad.write_text("\n".join([*lines[:4], "\t".join(fields), *lines[5:]]) + "\n")
    code, _, err = report(capsys, monkeypatch, tmp_path, str(bad), "-o", "page.html")
    assert code == 1 and f"{bad} line 5: column cost_usd is '0,12', not a number" in err
    assert not (tmp_path / "page.html").exists()
    header = tmp_path / "header.tsv"
    header.write_text(lines[0].replace("run_s", "runtime") + "\n" + lines[1] + "\n")
    code, _, err = report(capsys, monkeypatch, tmp_path, str(header))
    assert code == 1 and "column 17 is 'runtime', expected 'run_s'" in err
    assert not list(tmp_path.rglob("*.html"))


def test_cost_per_sample_as_multiqc_custom_content(tmp_path):
    folder = run_dir(tmp_path, FIXTURE)
    proc = cli(folder, "--multiqc", "qc/aml_cost_mqc.tsv")
    assert proc.returncode == 0, proc.stderr
    multiqc = shutil.which("multiqc") or str(Path(sys.executable).with_name("multiqc"))
    out = subprocess.run(
        [multiqc, "--quiet", "--no-ai", "-m", "custom_content", str(folder / "qc"),
         "-o", str(folder / "mqc")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    table = folder / "mqc/multiqc_data/multiqc_aml_cost.txt"
    with table.open() as f:
        shown = {r["Sample"]: r for r in csv.DictReader(f, delimiter="\t")}
    expected: dict[str, float] = defaultdict(float)
    for row in trace_rows():
        if row["sample"]:
            expected[row["sample"]] += float(row["cost_usd"])
    assert set(shown) == set(expected)
    for sample, cost in expected.items():
        assert float(shown[sample]["Est. cost (USD)"]) == pytest.approx(cost, abs=5e-5)
    report = (folder / "mqc/multiqc_report.html").read_text()
    assert "Jobs of no sample (bwa_index, multiqc)" in report
    assert cli(folder, "--multiqc", "qc/cost.tsv").returncode == 2


def test_an_attempt_not_started_or_running_or_without_a_price_is_shown_and_named():
    """Rows as the trace has them mid-run (status and times empty) or without a price."""
    rows = FIXTURE.read_text().splitlines()
    header, first, second = rows[0], rows[1].split("\t"), rows[2].split("\t")
    for name in ("started", "ended", "queue_s", "run_s"):
        first[COLUMNS.index(name)] = ""
    first[COLUMNS.index("status")] = "NotStarted"
    first[COLUMNS.index("node_s")] = first[COLUMNS.index("cost_usd")] = "0.0"
    second[COLUMNS.index("price_per_hour")] = second[COLUMNS.index("cost_usd")] = ""
    third = rows[3].split("\t")
    for name in ("status", "started", "ended", "queue_s", "run_s", "node_s", "cost_usd"):
        third[COLUMNS.index(name)] = ""
    text = "\n".join([header, *("\t".join(r) for r in (first, second, third))]) + "\n"
    dom = Dom(render(parse_trace(text, "t.tsv"), "r"))
    assert sorted(dom.bars) == sorted((r[0], r[10]) for r in (first, second, third))
    assert dom.totals["Estimated cost"] == (
        "$0.0000 + 2 attempt(s) without a cost (no price or node time)"
    )
    assert dom.totals["Jobs"] == "3 (2 not completed)"
    assert [p["Status"] for p in dom.table("problems")] == ["NotStarted", "unknown"]
    costs = {r["Rule"]: r["Est. cost (USD)"] for r in dom.table("by-rule")}
    assert costs[second[1]] == "0.0000 + 2 without"  # second and third: fastqc


def test_a_parallel_steps_members_fill_one_lane_per_node_not_one_each():
    """100 members submitted at once, run 4 at a time on a 4-node step: 4 lanes."""
    template = dict(zip(COLUMNS, trace_rows()[2].values(), strict=True))  # a fastqc member
    rows = []
    for i in range(100):
        begin = 300 + (i // 4) * 60
        rows.append(template | {
            "jobid": str(i + 1), "wildcards": f"sample=S{i},unit=L001,read=R1", "sample": f"S{i}",
            "nodes": "4", "submitted": "2026-12-07T13:00:00Z",
            "started": f"2026-12-07T13:{begin // 60:02d}:{begin % 60:02d}Z",
            "ended": f"2026-12-07T13:{begin // 60:02d}:{begin % 60 + 55:02d}Z",
        })  # fmt: skip
    text = "\t".join(COLUMNS) + "\n" + "".join("\t".join(r.values()) + "\n" for r in rows)
    page = render(parse_trace(text, "step.tsv"), "r")
    dom = Dom(page)
    assert len(dom.bars) == 100
    assert page.count('class="lane"') == 4
