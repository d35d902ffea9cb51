"""``vipar reproduce``: run the notebooks with papermill, render HTML, write an index.

1. Each notebook of ``notebooks/`` runs in order with ``params/<profile>/<notebook>.yaml`` into
   ``reports/<profile>/<notebook>.ipynb`` (kernel working directory: the repository).
2. A failed notebook does not stop the others; failures are listed at the end and the command
   exits non-zero.
3. Each executed notebook becomes ``<notebook>.html`` with the input cells hidden, and
   ``index.html`` links them and shows the headline table from the summary notebook.

Training inside the notebooks reuses finished runs from the run store, so a rerun after a crash
continues where it stopped; ``--force`` only re-executes the notebooks (it never deletes runs).
"""
from __future__ import annotations

import html
import json
import time
import traceback
from pathlib import Path

import yaml

from .. import REPO_DIR

__all__ = ["NOTEBOOKS", "reproduce", "render_html", "write_index", "PROFILES"]

NOTEBOOKS = ("00_data", "01_module_ablations", "02_backbones", "03_test_time_augmentation", "04_ensembles", "05_summary")
PROFILES = ("smoke", "demo", "ucf101")
TITLES = {"00_data": "Data: split, group leakage, RGB and residual frames",
          "01_module_ablations": "Table 1: SlowFast module ablations",
          "02_backbones": "Table 2: backbones and input types",
          "03_test_time_augmentation": "Table 3: test-time augmentation",
          "04_ensembles": "Table 4: ensembles",
          "05_summary": "Summary: all tables, cost vs accuracy, what reproduces"}


def _params(profile: str, name: str, params_dir: Path) -> dict:
    p = params_dir / profile / f"{name}.yaml"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no params file for notebook {name} in profile {profile!r}")
    d = yaml.safe_load(p.read_text()) or {}
    if not isinstance(d, dict):
        raise ValueError(f"{p}: expected a mapping of parameter names to values")
    return d


def _check_params(nb_path: Path, params: dict, source: Path):
    """A typo in a params file fails here, naming the key and the notebook's parameters."""
    import nbformat
    nb = nbformat.read(nb_path, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise ValueError(f"{nb_path}: no cell tagged 'parameters'")
    import ast
    names = {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets
             if isinstance(t, ast.Name)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise ValueError(f"{source}: unknown parameter(s) {unknown} for {nb_path.name}; allowed: {sorted(names)}")


def render_html(executed: Path, out: Path, profile: str) -> Path:
    import nbformat
    from nbconvert import HTMLExporter
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:        # progress bars and warnings go to stderr: keep them out of the report
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("name") != "stderr"]
    exp = HTMLExporter(template_name="lab")
    exp.exclude_input = True
    exp.exclude_input_prompt = True
    exp.exclude_output_prompt = True
    body, _ = exp.from_notebook_node(nb, resources={"metadata": {"name": f"{executed.stem} ({profile})"}})
    out.write_text(body)
    return out


def reproduce(profile: str = "demo", only: list[str] | None = None, force: bool = False,
              reports_dir: Path | None = None, params_dir: Path | None = None, notebooks_dir: Path | None = None,
              log=print) -> dict:
    """Run the notebooks of ``profile``; returns ``{"ok": [...], "failed": {name: error}, "index": path}``."""
    import papermill as pm
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r}; allowed: {list(PROFILES)}")
    params_dir = Path(params_dir or REPO_DIR / "params")
    notebooks_dir = Path(notebooks_dir or REPO_DIR / "notebooks")
    out_dir = Path(reports_dir or REPO_DIR / "reports") / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(NOTEBOOKS)
    if only:
        bad = sorted(set(only) - set(NOTEBOOKS))
        if bad:
            raise ValueError(f"--only: unknown notebook(s) {bad}; allowed: {list(NOTEBOOKS)}")
        names = [n for n in NOTEBOOKS if n in only]
    ok, failed, timing = [], {}, {}
    for name in names:
        t0 = time.time()
        executed = out_dir / f"{name}.ipynb"
        html_path = out_dir / f"{name}.html"
        try:
            src = params_dir / profile / f"{name}.yaml"
            params = _params(profile, name, params_dir)
            _check_params(notebooks_dir / f"{name}.ipynb", params, src)
            params.setdefault("profile", profile)
            params["figures_dir"] = str(out_dir / "figures")
            if name == "05_summary":
                params["summary_out"] = str(out_dir / "summary.json")
            if force or not executed.is_file() or not html_path.is_file():
                log(f"[{profile}] running {name} ...")
                pm.execute_notebook(str(notebooks_dir / f"{name}.ipynb"), str(executed), parameters=params,
                                    cwd=str(REPO_DIR), progress_bar=False, kernel_name="python3")
            else:
                log(f"[{profile}] {name}: report exists, kept (use --force to re-run)")
            render_html(executed, html_path, profile)
            ok.append(name)
        except Exception as e:  # one failed notebook must not stop the others
            failed[name] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
            (out_dir / f"{name}.error.txt").write_text(traceback.format_exc())
            if executed.is_file():
                try:
                    render_html(executed, html_path, profile)
                except Exception:
                    pass
            log(f"[{profile}] {name} FAILED: {failed[name]}")
        timing[name] = round(time.time() - t0, 1)
    index = write_index(out_dir, profile, names, failed, timing)
    log(f"[{profile}] {len(ok)} notebook(s) ok, {len(failed)} failed; index: {index}")
    return {"ok": ok, "failed": failed, "index": index, "timing": timing}


def _fmt(x, spec="{:.1f}"):
    try:
        return "–" if x is None or x != x else spec.format(x)
    except (TypeError, ValueError):
        return html.escape(str(x))


def write_index(out_dir: Path, profile: str, names, failed: dict, timing: dict) -> Path:
    summary = {}
    if (out_dir / "summary.json").is_file():
        summary = json.loads((out_dir / "summary.json").read_text())
    synthetic = summary.get("synthetic", profile in ("smoke", "demo"))
    warn = ("<p class='warn'><b>Synthetic data.</b> The numbers in these reports come from the synthetic dataset "
            f"of the <code>{profile}</code> profile. They test the pipeline and show the direction of effects on a toy "
            "problem; they are <b>not</b> a reproduction of the paper's UCF101 results.</p>") if synthetic else ""
    items = []
    for n in names:
        status = f"<span class='bad'>failed: {html.escape(failed[n])}</span>" if n in failed else "ok"
        items.append(f"<li><a href='{n}.html'>{html.escape(TITLES.get(n, n))}</a> "
                     f"<small>({status}, {timing.get(n, 0):.0f} s)</small></li>")
    rows = []
    for r in summary.get("rows", []):
        rows.append(f"<tr><td>{html.escape(r['table'])}</td><td>{html.escape(str(r['id']))}</td>"
                    f"<td>{html.escape(r['method'])}</td><td>{_fmt(r['paper'])}</td><td>{_fmt(r['run'])}</td>"
                    f"<td>[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]</td><td>{_fmt(r['mean_class'])}</td></tr>")
    table = ("<h2>Headline results</h2><table><tr><th>table</th><th>row</th><th>method</th><th>paper acc (%)</th>"
             "<th>this run top-1 (%)</th><th>95% CI</th><th>mean per-class (%)</th></tr>" + "".join(rows) + "</table>"
             ) if rows else "<p>No summary yet (the summary notebook did not run or failed).</p>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>vipar reports ({profile})</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:14px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
th{{background:#f3f3f3}}.warn{{background:#fff4e5;border-left:5px solid #f0a020;padding:.6em 1em}}
.bad{{color:#b00020}}</style></head><body>
<h1>vipar: DeepBlue VIPriors 2020 reproduction — profile <code>{profile}</code></h1>
{warn}
<p>Reports generated {time.strftime('%Y-%m-%d %H:%M')} by <code>vipar reproduce --profile {profile}</code>.
Paper numbers are the paper's (UCF101); every other number was computed in this run.</p>
<h2>Reports</h2><ul>{''.join(items)}</ul>
{table}
</body></html>"""
    p = out_dir / "index.html"
    p.write_text(page)
    return p
