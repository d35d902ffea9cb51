"""Power analysis: which of the paper's 17 findings can a study of this design resolve, and at how many seeds?

::

    paper's Δ (paper_tables.yaml)                       ─┐
    test-set half-width on UCF101: discordance of the    │   seeds needed for the target power (seeds_needed)
      released pairs that stand for the finding          ├─► minimal detectable effect at the profile's seeds
      (released_files.yaml: comparables)                 │   GPU-hours (cost plan × seeds)
    between-seed SD: this profile's own seeds (>= 2, in  │   a study-wide recommendation within the budget
      the run store), else an assumption (power.seed_sd)─┘

The test-set half-width is what one paired comparison of two such classifiers can resolve on the 3,783
challenge test videos: ``z · sqrt((p10 + p01 - (p10 - p01)²) / N)`` from how often the released pair
disagrees (:func:`vipar_lib.metrics.discordance_halfwidth`). The power model treats it as fixed: more seeds
shrink only the seed term of ``sqrt(seed_sd² / S + test_se²)`` (:func:`vipar_lib.metrics.power_of`). One
released pair's disagreement also holds some seed × video noise that averaging seeds would shrink, so the
half-width is a conservative floor and the seeds needed an upper bound.

Everything here runs offline from the release folder (``release.dir``) and the params file, in seconds;
nothing trains. The seed SD is labelled with where it came from (``seed_sd_source``).
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import released as R
from ..metrics import min_detectable_effect, power_of, seeds_needed, t_quantile
from ..paper import findings as paper_findings
from ..paper import row_ref
from ..paths import resolve
from ..study.config import COMPARISONS, StudyConfig
from ..study.cost import cost_plan
from ..study.plan import Plan, PlannedRow, plan_study
from .findings import check_findings
from .results import MissingResult

__all__ = ["power_analysis", "format_power", "power_table", "power_figure", "show_power", "SEEDS_SHOWN"]

SEEDS_SHOWN = (1, 2, 3, 5, 10)


def _z(p: float) -> float:
    """The standard normal quantile of ``p`` (0 < p < 1)."""
    return t_quantile(p, math.inf) if p >= 0.5 else -t_quantile(1 - p, math.inf)


def _paper_delta(plan: Plan, f: dict) -> tuple[float, str]:
    """The paper's Δ for a finding (a 'best' row is the paper's most accurate row of that table)."""
    rows = []
    for ref in (f["a"], f["b"]):
        t, rid = row_ref(ref)
        rows.append(max(plan.rows[t], key=lambda r: r.paper or -1) if rid == "best" else plan.row(t, rid))
    return rows[0].paper - rows[1].paper, f"{rows[0].id} vs {rows[1].id}"


def _runs_of(plan: Plan, row: PlannedRow) -> set[str]:
    """The first seed's runs a row reads, with the runs they warm-start from."""
    if row.table == "table4":
        names = {plan.row("table3", rid).run for rid, _ in row.members}
    else:
        names = {row.run}
    stack, out = list(names), set()
    while stack:
        n = stack.pop()
        if n not in out:
            out.add(n)
            stack += list(plan.runs[n].needs)
    return out


def _finding_runs(plan: Plan, f: dict) -> set[str]:
    out: set[str] = set()
    for ref in (f["a"], f["b"]):
        t, rid = row_ref(ref)
        for r in (plan.rows[t] if rid == "best" else [plan.row(t, rid)]):
            out |= _runs_of(plan, r)
    return out


def _run_hours(cost: dict) -> dict[str, float]:
    """Hours each run (first seed) occupies a GPU: compute at the throughput, or decoding if that is slower."""
    out = {}
    for r in cost["runs"]:
        compute = (r["train_pflop"] + r["eval_pflop"]) * 1e15 / (cost["throughput_tflops"] * 1e12) / 3600
        decode = r["decode_mframes"] * 1e6 / cost["decode_fps"] / 3600
        out[r["name"]] = max(compute, decode)
    return out


def _own_results(plan: Plan) -> dict[str, dict]:
    """Per finding: this profile's effect, interval and per-seed SD, when the run store has its logits."""
    try:
        df = check_findings(plan)
    except (MissingResult, FileNotFoundError, ValueError):
        return {}
    return {r["id"]: {"seed_sd": float(r["seed SD"]), "seed_var": float(r["seed var"]), "seeds": int(r["seeds"]),
                      "effect": float(r["this run Δ"]),
                      "low": float(r["low"]), "high": float(r["high"]), "resolved": r["resolved"] == "yes"}
            for _, r in df.iterrows()}


def _pooled_seed_sd(own: dict, kinds: dict[str, str]) -> dict[str, dict]:
    """Per kind of comparison: the between-seed SD pooled over that kind's findings - one finding's from 2-3 seeds
    alone is too noisy to plan with. Each finding gives its seed variance component
    (:func:`vipar_lib.metrics.seed_variance_component`: the spread of its per-seed effects less the test-set
    noise in that spread, which belongs to this profile's test set, not to UCF101's); pooled weighted by S - 1
    (sum(S - 1) degrees of freedom), then clipped at 0."""
    out = {}
    for kind in set(kinds.values()):
        xs = [o for fid, o in own.items() if kinds.get(fid) == kind and o["seeds"] > 1 and math.isfinite(o["seed_var"])]
        if xs:
            df = sum(o["seeds"] - 1 for o in xs)
            out[kind] = {"seed_sd": math.sqrt(max(0.0, sum((o["seeds"] - 1) * o["seed_var"] for o in xs) / df)),
                         "findings": len(xs), "seeds": max(o["seeds"] for o in xs),
                         "df": df}
    return out


#: where the release and the official lists are looked for when the params' paths do not exist (in order)
RELEASE_FALLBACKS = ("data/deepblue-release", "../shared/deepblue-release")
LISTS_FALLBACKS = ("../shared/data/ucfTrainTestlist",)


def _first_existing(*paths) -> Path | None:
    for p in paths:
        if p and resolve(p).exists():
            return resolve(p)
    return None


def _release_paths(study: StudyConfig, release_dir=None, lists_dir=None) -> tuple[Path, Path]:
    """``release_dir``/``lists_dir`` if given, else the params' ``release.dir``/``release.lists`` (lists: also
    ``dataset.lists``), else :data:`RELEASE_FALLBACKS`/:data:`LISTS_FALLBACKS`, the first that exists."""
    rd = _first_existing(release_dir, study.release.dir, *RELEASE_FALLBACKS)
    ld = _first_existing(lists_dir, study.release.lists, study.dataset.lists, *LISTS_FALLBACKS)
    if rd is None or ld is None:
        tried = [x for x in ((release_dir, study.release.dir, *RELEASE_FALLBACKS) if rd is None else
                             (lists_dir, study.release.lists, study.dataset.lists, *LISTS_FALLBACKS)) if x]
        raise R.ReleasedError(f"power analysis needs the authors' released logits and the official lists: none of "
                              f"{[str(x) for x in tried]} exists; give --release DIR --lists DIR "
                              "(`vipar released fetch` clones the release)")
    return rd, ld


def _release_halfwidths(study: StudyConfig, alpha: float, rd: Path, ld: Path) -> tuple[dict, dict]:
    rel = R.load_release(rd, ld, cache_dir=study.runs_path.parent / "released-cache")
    return R.comparison_halfwidths(rel, alpha), {"dir": str(rd), "lists": str(ld), "files": len(rel.files),
                                                 "videos": len(rel.label)}


def _finding_row(plan: Plan, f: dict, hw: dict, own: dict, pooled: dict, hours: dict, assumed: dict) -> dict:
    p = plan.study.power
    delta, rows = _paper_delta(plan, f)
    kind = hw["kind"]
    o, m = own.get(f["id"]), pooled.get(kind)
    if m is not None:
        sd = m["seed_sd"]
        src = (f"measured: profile {plan.study.profile}, {m['seeds']} seeds, pooled over {m['findings']} {kind} "
               f"findings ({m['df']} df)" + (" on synthetic data: its seed noise, not UCF101's"
                                             if plan.study.synthetic else ""))
        short = f"measured ({m['seeds']} seeds, {m['findings']} findings, {m['df']} df)"
    else:
        sd, src = assumed[kind], f"assumed (power.seed_sd.{kind}; not measured)"
        short = f"assumed (power.seed_sd.{kind})"
    se = hw["halfwidth"] / _z(1 - p.alpha / 2)
    configured = plan.study.seed_count(f["table"])
    need = seeds_needed(delta, sd, se, p.power, p.alpha, p.max_seeds)
    per_seed_h = sum(hours.get(n, 0.0) for n in _finding_runs(plan, f))
    return {"id": f["id"], "claim": f["claim"], "table": f["table"], "rows": rows, "kind": kind,
            "paper_delta": delta, "test_halfwidth": hw["halfwidth"],
            "test_pairs": [dict(x) for x in hw["pairs"]],
            "single_run_resolvable": bool(abs(delta) > hw["halfwidth"]),
            "seed_sd": sd, "seed_sd_source": src, "seed_sd_short": short, "seeds_needed": need,
            "gpu_hours_per_seed": per_seed_h, "gpu_hours": per_seed_h * need if need else None,
            "seeds_configured": configured,
            "mde": min_detectable_effect(sd, se, configured, p.power, p.alpha),
            "power_at_configured": power_of(delta, sd, se, configured, p.alpha),
            "power_by_seeds": {str(s): power_of(delta, sd, se, s, p.alpha) for s in SEEDS_SHOWN},
            "this_profile": o}


def _by_seeds(findings: list[dict], study_hours: float, p) -> list[dict]:
    out = []
    for s in range(1, p.max_seeds + 1):
        ok = [f["id"] for f in findings if _power(f, s, p) >= p.power]
        out.append({"seeds": s, "resolvable": len(ok), "findings": ok, "gpu_hours": study_hours * s,
                    "within_budget": study_hours * s <= p.budget_gpu_hours})
    return out


def _power(f: dict, s: int, p) -> float:
    return power_of(f["paper_delta"], f["seed_sd"], f["test_halfwidth"] / _z(1 - p.alpha / 2), s, p.alpha)


def _recommend(by_seeds: list[dict]) -> dict:
    """The fewest seeds (>= 2) that resolve as many findings as any seed count within the budget."""
    ok = [b for b in by_seeds if b["within_budget"] and b["seeds"] >= 2]
    if not ok:
        return {"seeds": None, "why": "no seed count >= 2 fits the GPU-hour budget"}
    best = max(b["resolvable"] for b in ok)
    pick = min(b["seeds"] for b in ok if b["resolvable"] == best)
    return {"seeds": pick, "resolvable": best, "why": f"the fewest seeds (>= 2) resolving {best} findings with "
            f"the target power; more seeds within the budget resolve no more"}


def power_analysis(plan: Plan, seed_sd: dict | None = None, release_dir=None, lists_dir=None) -> dict:
    """Every finding's paper Δ, test-set half-width, seed SD, seeds needed, GPU-hours and minimal detectable effect.

    ``seed_sd`` overrides the params' assumed SDs per kind (``{"models": 1.5}``); ``release_dir``/``lists_dir``
    the release folder and the official lists (:func:`_release_halfwidths`).
    """
    study, p = plan.study, plan.study.power
    assumed = {k: float(getattr(p.seed_sd, k)) for k in COMPARISONS} | {k: float(v) for k, v in (seed_sd or {}).items()}
    rd, ld = _release_paths(study, release_dir, lists_dir)
    hws, release = _release_halfwidths(study, p.alpha, rd, ld)
    if study.dataset.train_list == "release" and not (study.release.dir and resolve(study.release.dir).exists()):
        # the cost plan sizes the training list from the release's train22.txt: read it where it was found
        plan = plan_study(replace(study, release=replace(study.release, dir=str(rd))))
    cost = cost_plan(plan, decode_cores=None)
    hours = _run_hours(cost)
    own = _own_results(plan)
    pooled = _pooled_seed_sd(own, {fid: h["kind"] for fid, h in hws.items()})
    findings = [_finding_row(plan, f, hws[f["id"]], own, pooled, hours, assumed) for f in paper_findings()]
    seeds0 = {r.config.train.seed for r in plan.runs.values()}
    study_hours = sum(h for n, h in hours.items() if plan.runs[n].config.train.seed == min(seeds0))
    by = _by_seeds(findings, study_hours, p)
    return {"profile": study.profile, "reading": study.reading, "synthetic": study.synthetic, "release": release,
            "assumptions": {"seed_sd": assumed, "power": p.power, "alpha": p.alpha,
                            "budget_gpu_hours": p.budget_gpu_hours, "max_seeds": p.max_seeds,
                            "gpu_hours_source": f"cost plan: {cost['throughput_source']}; decoding "
                                                f"{cost['decode_source']}; a run takes the larger of the two"},
            "study_gpu_hours_per_seed": study_hours, "findings": findings, "by_seeds": by,
            "recommended": _recommend(by),
            "note": "test_halfwidth: UCF101's test set (3,783 videos), from the authors' released predictions; "
                    "seeds_needed >= 2 (a seed-aware interval needs two seeds); null: not within max_seeds "
                    "(the test set's own half-width is the floor more seeds cannot lower)"}


def _hours(h: float | None) -> str:
    """GPU-hours to one decimal; a small nonzero cost (the demo's) reads "<0.1", not "0.0"."""
    if h is None:
        return "–"
    return "<0.1" if 0 < h < 0.05 else f"{h:.1f}"


def format_power(r: dict) -> str:
    """The analysis as text, one line per finding."""
    lines = [f"power analysis, profile {r['profile']} ({r['reading']} reading): {r['assumptions']['power']:.0%} power, "
             f"{1 - r['assumptions']['alpha']:.0%} intervals; test-set half-widths from the authors' released logits "
             f"({r['release']['files']} files, {r['release']['videos']} UCF101 test videos)",
             f"{'id':4} {'kind':9} {'paper Δ':>7} {'test ±':>6} {'seed SD':>7}  {'seeds needed':>12} {'GPU-h':>7} "
             f"{'MDE@cfg':>8}  seed SD source"]
    for f in r["findings"]:
        need = f["seeds_needed"] if f["seeds_needed"] is not None else f">{r['assumptions']['max_seeds']}"
        gh = _hours(f["gpu_hours"])
        lines.append(f"{f['id']:4} {f['kind']:9} {f['paper_delta']:+7.1f} {f['test_halfwidth']:6.2f} "
                     f"{f['seed_sd']:7.2f}  {need!s:>12} {gh:>7} {f['mde']:5.1f}@{f['seeds_configured']:<2} "
                     f"{f['seed_sd_source']}")
    shown = [b for b in r["by_seeds"] if b["seeds"] in SEEDS_SHOWN]
    lines.append("findings resolvable with the target power: " + ", ".join(
        f"{b['seeds']} seed{'s' if b['seeds'] > 1 else ''}: {b['resolvable']}" for b in shown)
        + " (1 seed: a single run's interval, test videos only — it ignores seed noise)")
    rec = r["recommended"]
    lines.append(f"study: {_hours(r['study_gpu_hours_per_seed'])} GPU-hours per seed "
                 f"({r['assumptions']['gpu_hours_source']})")
    lines.append(f"recommended within {r['assumptions']['budget_gpu_hours']:.0f} GPU-hours: "
                 + (f"{rec['seeds']} seeds ({rec['why']})" if rec["seeds"] else rec["why"]))
    return "\n".join(lines)


def power_table(r: dict):
    """The analysis as a pandas Styler, one row per finding."""
    import pandas as pd
    rows = [{"id": f["id"], "finding (paper)": f["claim"], "kind": f["kind"], "paper Δ": f"{f['paper_delta']:+.1f}",
             "test-set ± (UCF101)": f"{f['test_halfwidth']:.2f}",
             "released pairs": "; ".join(f"{p['a']} vs {p['b']}" for p in f["test_pairs"]),
             "seed SD": f"{f['seed_sd']:.2f}", "seed SD from": f["seed_sd_short"],
             f"seeds for {r['assumptions']['power']:.0%}": f["seeds_needed"] if f["seeds_needed"] is not None else
             f">{r['assumptions']['max_seeds']}",
             "GPU-h": _hours(f["gpu_hours"]),
             f"MDE at {f['seeds_configured']} seed(s)": f"{f['mde']:.1f}"} for f in r["findings"]]
    df = pd.DataFrame(rows)
    return df.style.hide(axis="index").set_caption(
        f"Power of the paper's findings on UCF101's test set ({r['release']['videos']} videos; half-widths from the "
        f"authors' released logits, real UCF101 test set), {r['assumptions']['power']:.0%} power, "
        f"{1 - r['assumptions']['alpha']:.0%} intervals" + _measured_note(r))


def _measured_note(r: dict) -> str:
    """Where the measured seed SDs come from, said once under the table rather than in every row."""
    if not any(f["seed_sd_source"].startswith("measured") for f in r["findings"]):
        return "; seed SDs assumed (power.seed_sd), not measured"
    synthetic = " on synthetic data: its seed noise, not UCF101's" if r["synthetic"] else ""
    return f"; seed SDs measured on profile {r['profile']}'s seeds, pooled per kind of comparison{synthetic}"


def power_figure(r: dict):
    """Minimal detectable effect against seeds per kind of comparison, with each finding's |paper Δ|."""
    from .figures import _plt
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    seeds = list(range(2, r["assumptions"]["max_seeds"] + 1))
    colors = {"models": "#4C72B0", "views": "#55A868", "ensembles": "#8172B3"}
    for kind, col in colors.items():
        fs = [f for f in r["findings"] if f["kind"] == kind]
        if not fs:
            continue
        p = r["assumptions"]
        se = float(np.median([f["test_halfwidth"] for f in fs])) / _z(1 - p["alpha"] / 2)
        sd = fs[0]["seed_sd"]
        ax.plot(seeds, [min_detectable_effect(sd, se, s, p["power"], p["alpha"]) for s in seeds], color=col,
                label=f"{kind}: smallest effect resolved with {p['power']:.0%} power (seed SD {sd:.2f})")
        ax.axhline(se * (_z(1 - p["alpha"] / 2) + _z(p["power"])), color=col, ls=":", lw=1)
        ax.scatter([seeds[-1] + 0.6] * len(fs), [abs(f["paper_delta"]) for f in fs], color=col, marker="D", s=18)
    _label_diamonds(ax, r["findings"], seeds[-1] + 0.6)
    ax.set(xlabel="seeds per row", ylabel="effect (points of top-1)", yscale="log",
           title="What UCF101's test set and seed noise let a study resolve (diamonds: the paper's |Δ|)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def _label_diamonds(ax, findings: list[dict], x: float, gap: float = 0.085) -> None:
    """Each finding's id beside its diamond, pushed up (in decades of the log axis) where two would overlap,
    with a thin line back to a diamond whose label moved."""
    pts = sorted((max(abs(f["paper_delta"]), 1e-3), f["id"]) for f in findings)
    last = -np.inf
    for y, fid in pts:
        at = max(np.log10(y), last + gap)
        last = at
        moved = at - np.log10(y) > 1e-9
        ax.annotate(fid, (x, y), xytext=(x + 0.5, 10 ** at), fontsize=7, va="center",
                    arrowprops=dict(arrowstyle="-", lw=0.4, color="0.6") if moved else None)


def show_power(plan: Plan, seed_sd: dict | None = None) -> dict | None:
    """The power section of notebooks 05 and 06: a table, a figure and the recommendation (:func:`power_analysis`)."""
    from .pages import _display, md, show_figure
    try:
        r = power_analysis(plan, seed_sd)
    except R.ReleasedError as e:
        md(f"**Power analysis skipped:** {e}")
        return None
    pw = f"{r['assumptions']['power']:.0%}"
    md("**Which findings can a study resolve?** For each finding, the 95% half-width one paired comparison of that "
       "kind has on UCF101's test set (from how often comparable pairs of the authors' released predictions "
       "disagree), the between-seed SD (measured here when the profile has ≥ 2 seeds, else an assumption, "
       f"labelled), the seeds per row needed to resolve the paper's Δ with {pw} power, what that costs, and the "
       "smallest effect this profile's seeds can resolve. More seeds shrink only the seed term: the test set's "
       "own half-width is a floor (a conservative one: one released pair's disagreement also holds some seed "
       "noise).")
    _display(power_table(r))
    shown = [b for b in r["by_seeds"] if b["seeds"] in SEEDS_SHOWN]
    rec = r["recommended"]
    md(f"Findings resolvable with {pw} power: " + ", ".join(f"**{b['resolvable']}** at {b['seeds']} seed"
                                                         f"{'s' if b['seeds'] > 1 else ''}" for b in shown)
       + " (one seed: a single run's interval over test videos only, which ignores seed noise). "
       + f"This study costs {_hours(r['study_gpu_hours_per_seed'])} GPU-hours per seed "
       f"({r['assumptions']['gpu_hours_source']}); within {r['assumptions']['budget_gpu_hours']:.0f} GPU-hours the "
       + (f"recommendation is **{rec['seeds']} seeds**: {rec['why']}." if rec["seeds"] else f"{rec['why']}."))
    show_figure(power_figure(r), f"Smallest effect resolved with {pw} power against seeds per row, per kind of "
                "comparison, from the authors' released logits, real UCF101 test set (test-set half-widths) "
                "(dotted: the test set's floor with infinitely many seeds); diamonds: each finding's "
                "|paper Δ|. A finding whose diamond lies below its line cannot be resolved at that many seeds.",
                "power.png", plan)
    return r
