"""Every number on every page goes through one rounding rule (vipar_lib/report/fmt.py), read off the rendered HTML."""
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from vipar_lib.engine.progress import TextBar
from vipar_lib.report import fmt
from vipar_lib.report.explore import stats_table
from vipar_lib.report.findings import style_findings
from vipar_lib.report.relabel import relabelled_by_view
from vipar_lib.report.runner import NOTEBOOKS

LONG_FLOAT = re.compile(r"(?<![\w.])[-+−]?\d+\.\d{5,}(?![\w.])")


class _Page(HTMLParser):
    """A page's visible text (no style, script or attribute values) and its tables as lists of rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.text, self.tables, self._skip, self._cell = [], [], 0, None

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        self.text.append(" ")
        alt = dict(attrs).get("alt")
        if alt:
            self.text.append(f" {alt} ")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(path) -> _Page:
    p = _Page()
    p.feed(path.read_text())
    return p


def _tables_with(page: _Page, *headers) -> list[list[dict]]:
    """Tables whose header row has all of ``headers``, as lists of {header: cell} dicts."""
    out = []
    for t in page.tables:
        head = [re.sub(r" \((mean of \d+ seeds|seeds × videos.*|test videos.*)\)$", "", h) for h in t[0]] if t else []
        if not t or not all(h in head for h in headers):
            continue
        out.append([dict(zip(head, r)) for r in t[1:] if len(r) == len(head)])
    return out


def _end_reads_zero(ci: str) -> bool:
    lo, hi = (float(x.replace("−", "-")) for x in ci.strip("[]").split(","))
    return lo == 0 or hi == 0


# --------------------------------------------------------------------------------------------- the rule itself
def test_the_rounding_rule():
    assert fmt.places(41.7, 91.7) == 0 and fmt.places(77.8, 80.5) == 1 and fmt.places(0.46, 1.15) == 2
    # a resolved effect keeps the decimals that show it excludes 0; an unresolved one does not need them
    assert fmt.with_ci(-0.6, -1.13, -0.04, effect=True) == "-0.60 [-1.13, -0.04]"
    assert fmt.with_ci(-0.6, -1.13, -0.004, effect=True) == "-0.600 [-1.130, -0.004]"
    assert fmt.with_ci(-0.6, -1.13, 0.04, effect=True) == "-0.6 [-1.1, +0.0]"
    assert fmt.with_ci(0.5, 0.02, 1.3, effect=True, resolved=True) == "+0.50 [+0.02, +1.30]"
    assert fmt.with_ci(66.667, 41.667, 91.667, unit="%") == "67% [42, 92]"
    assert fmt.num(-0.0, 1, True) == "+0.0" and fmt.num(None) == fmt.num(float("nan")) == "–"
    assert fmt.interval(None, 3.0, 1) == ""
    assert [fmt.sig(x) for x in (0.02618, 0.000123, 33.89, 72.71, 0.5469)] == ["0.0262", "0.0001", "33.9", "72.7",
                                                                            "0.547"]


def test_findings_round_each_effect_by_its_own_interval():
    df = pd.DataFrame({"finding (paper)": ["a", "b"], "rows": ["T1.2 vs T1.1", "T1.3 vs T1.1"], "paper Δ": [0.6, 1.2],
                       "this run Δ": [-16.667, -0.6], "low": [-41.667, -1.13], "high": [0.0, -0.04],
                       "resolved": ["no", "yes"], "agrees": ["–", "no"]})
    html = style_findings(df).to_html()
    assert "-17" in html and "[-42, +0]" in html                  # a wide interval: whole points
    assert "-0.60" in html and "[-1.13, -0.04]" in html           # resolved: the end near 0 is not 0


def test_video_stats_read_as_counts():
    df = pd.DataFrame({"frames": [36, 41, 56], "fps": [25.0, 25.0, 25.0], "width": [160, 160, 160],
                       "height": [120, 120, 120]})
    t = stats_table(df)
    assert t.loc["frames per video"].tolist() == ["3", "36", "41", "44.3", "56"]
    assert t.loc["width (px)", "mean"] == "160" and t.loc["frame rate (fps)", "max"] == "25"
    assert stats_table(df.assign(fps=29.97)).loc["frame rate (fps)", "median"] == "29.97"


def test_relabelled_classes_are_the_runs_own():
    assert relabelled_by_view(["MoveLeft", "MoveRight", "StillDisk", "StillSquare"]) == {
        "reverse": ["MoveLeft↔MoveRight"], "flip": ["MoveLeft↔MoveRight"]}
    assert relabelled_by_view(["StillDisk", "Grow", "Shrink"]) == {"reverse": ["Grow↔Shrink"], "flip": []}


def test_notebook_progress_line_wraps_and_ends_full(monkeypatch):
    shown = {}

    class Handle:
        def update(self, data, raw=True):
            shown.update(data)

    monkeypatch.setattr("vipar_lib.engine.progress._handle", lambda slot: Handle())
    b = TextBar(12, "evaluations", unit="group")
    for _ in range(12):
        b.update(1)
    b.set_postfix(run="t2_slowfast_r50_diff-36700b21", split="validation", interval=2)
    b.close()
    assert '<progress value="12" max="12"' in shown["text/html"] and "100%" in shown["text/html"]
    assert "white-space:normal" in shown["text/html"]                       # wraps instead of running off the page
    assert "split=validation" in shown["text/html"]
    assert all(len(line) <= 100 for line in shown["text/plain"].splitlines())


# ------------------------------------------------------------------------------------------ the rendered pages
@pytest.mark.slow
def test_no_page_shows_an_unrounded_number(smoke_reports):
    res, out = smoke_reports
    assert res["failed"] == {}, res["failed"]
    for name in [*NOTEBOOKS, "index"]:
        text = "".join(_parse(out / f"{name}.html").text)
        long = sorted(set(LONG_FLOAT.findall(text)))
        assert not long, f"{name}.html shows unrounded numbers: {long[:10]}"
        assert "synthetic demo data" not in text, name                           # smoke is not the demo


@pytest.mark.slow
def test_an_effect_reads_the_same_on_every_page(smoke_reports):
    _, out = smoke_reports
    pages = {n: _parse(out / f"{n}.html") for n in ("01_module_ablations", "02_backbones", "05_summary", "index")}
    table_rows = {}          # "T1.2 vs T1.1" -> (Δ, CI) as Tables 1-2 show them
    for n in ("01_module_ablations", "02_backbones"):
        (rows,) = _tables_with(pages[n], "this run: Δ top-1", "Δ 95% CI", "vs")
        table_rows |= {f"{r['id']} vs {r['vs']}": (r["this run: Δ top-1"], r["Δ 95% CI"])
                       for r in rows if r["Δ 95% CI"]}
    shown = {}
    for n, page in pages.items():
        for t in _tables_with(page, "finding (paper)", "this run Δ", "95% CI"):
            for r in t:
                shown.setdefault(r["rows"], {})[n] = (r["this run Δ"], r["95% CI"])
    assert len(shown) >= 10 and any(len(v) >= 3 for v in shown.values())
    for rows, by_page in shown.items():
        assert len(set(by_page.values())) == 1, (rows, by_page)              # findings: 01/02, summary, index
        if rows in table_rows:
            assert table_rows[rows] in by_page.values(), (rows, table_rows[rows], by_page)


@pytest.mark.slow
def test_a_resolved_interval_never_reads_zero(smoke_reports, release):
    """Every table with a resolved column, on every page; the released Table 3 (real data) has resolved rows."""
    _, out = smoke_reports
    checked = 0
    for name in NOTEBOOKS:
        page = _parse(out / f"{name}.html")
        for head in (("resolved?", "Δ 95% CI"), ("resolved?", "95% CI")):
            for t in _tables_with(page, *head):
                for r in t:
                    res, ci = r["resolved?"], r[head[1]]
                    if res.startswith("yes") and ci:
                        checked += 1
                        assert not _end_reads_zero(ci), (name, r)
    assert checked >= 3                          # the released logits' Table 3 resolves several views


@pytest.mark.slow
def test_pages_read_as_a_reader_expects(smoke_reports):
    _, out = smoke_reports
    data = "".join(_parse(out / "00_data.html").text)
    assert "frames per video" in data and "count" not in data.split("Videos: frame counts")[1].split("RGB frames")[0]
    tta = "".join(_parse(out / "03_test_time_augmentation.html").text)
    assert "MoveLeft↔MoveRight" in tta and "Grow" not in tta                 # only the smoke run's own classes
    summary = _parse(out / "05_summary.html")
    (chance_rows,) = _tables_with(summary, "× chance", "mean per-class (%)")
    assert all(re.fullmatch(r"\d+\.\d×", r["× chance"]) for r in chance_rows)
    assert all(re.fullmatch(r"\d+(\.\d{1,2})?", r["mean per-class (%)"]) for r in chance_rows)
    released = "".join(_parse(out / "06_released_logits.html").text)
    assert "翻转 (fānzhuǎn, flip)" in released                                # readable without a CJK font too
