"""``vipar reproduce``: run a profile's notebooks with papermill, render HTML, keep an index.

::

    for each notebook (N of M, with an ETA from the previous run's timings):
        papermill notebooks/<nb>.ipynb -p profile <profile> [-p overrides {...}]  ──► reports/<profile>/<nb>.ipynb
        HTML (input hidden, stderr dropped)                                       ──► reports/<profile>/<nb>.html
    status.json (every notebook's last status) + summary.json                     ──► reports/<profile>/index.html

* A notebook counts as done only when papermill recorded no exception in the executed notebook;
  a failed one runs again next time. ``--force`` re-executes done ones too (it never deletes runs:
  the run store makes a rerun cheap).
* A failed notebook does not stop the others; the command exits non-zero.
* ``status.json`` keeps every notebook's last status and time, so ``--only`` updates its rows and
  the index still lists the rest.
* Kernels talk over IPC sockets (no "running over TCP without encryption" warning at every start).

**A page is one unit** (issue #21): the HTML, the executed notebook, and every CSV, figure and
JSON file the notebook wrote in that run (the files of ``reports/<profile>/`` it created or
changed), with each file's sha1, and the **settings** that made them (a fingerprint of the resolved
:class:`~vipar_lib.study.StudyConfig`, and the overrides) are recorded in the page's ``status.json``
row, with the **code** that rendered them (:func:`code_fingerprint`: the notebook and vipar's
package). ``reproduce`` keeps a page only when its settings are the ones asked for now, the code is
the same and every file of its unit still holds what the run wrote; otherwise it runs the notebook
again and says why ("settings changed", "vipar's code or the notebook changed since the page was
rendered", "table1.csv was rewritten after the page was rendered"). A notebook run
outside ``reproduce`` (plain papermill, JupyterLab) checks after every cell
(:func:`watch_page_units`, called by the notebooks' first cell) whether it rewrote a file of a
rendered page; such a page is marked **stale** at once: a banner at the top of its HTML, its row in
``status.json`` and in the index (and ``reproduce`` runs it again). A run with the same settings
writes the same bytes and leaves every page current. ``index.html`` shows each page's settings.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .. import REPO_DIR
from ..paths import resolve, write_atomic
from ..study.config import load_study
from ..study.dryrun import dry_run_overrides
from ..typed import merge
from . import fmt

__all__ = ["NOTEBOOKS", "TITLES", "reproduce", "render_html", "write_index", "notebook_ok", "read_status",
           "settings_fingerprint", "code_fingerprint", "inputs_fingerprint", "page_state", "mark_stale_pages",
           "watch_page_units", "REPRODUCE_ENV"]

NOTEBOOKS = ("00_data", "01_module_ablations", "02_backbones", "03_test_time_augmentation", "04_ensembles",
             "05_summary", "06_released_logits")
TITLES = {"00_data": "Data: split, group leakage, RGB and residual frames",
          "01_module_ablations": "Table 1: SlowFast module ablations",
          "02_backbones": "Table 2: backbones and input types",
          "03_test_time_augmentation": "Table 3: test-time augmentation",
          "04_ensembles": "Table 4: ensembles",
          "05_summary": "Summary: all tables, cost vs accuracy, what reproduces",
          "06_released_logits": "Authors' released logits, real UCF101 test set: Tables 3–4 re-scored"}
TABLE_OF = {"01_module_ablations": "table1", "02_backbones": "table2", "03_test_time_augmentation": "table3",
            "04_ensembles": "table4"}
STATUS_FILE = "status.json"
STATUS_LOCK = ".status.lock"                 # flock of read-modify-writes of status.json
REPRODUCE_ENV = "VIPAR_REPRODUCE"       # set while `vipar reproduce` runs a notebook: it records the unit itself
_NOT_UNIT = {STATUS_FILE, "index.html"}


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        """The kernel's sockets are files in a private temporary folder instead of TCP ports."""

        def __init__(self, **kw):
            super().__init__(**kw)
            self.transport = "ipc"
            self.ip = os.path.join(tempfile.mkdtemp(prefix="vipar-kernel-"), "ipc")

    return IPCKernelManager


def notebook_ok(executed: Path) -> tuple[bool, str]:
    """Whether papermill executed ``executed`` without an exception; else the error's last line."""
    import nbformat
    if not executed.is_file():
        return False, "not run"
    try:
        nb = nbformat.read(executed, as_version=4)
    except Exception as e:  # a torn file from a killed run
        return False, f"unreadable executed notebook ({e})"
    pm = nb.metadata.get("papermill", {})
    if pm.get("exception") or pm.get("status") == "failed":
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return False, f"{out.get('ename')}: {out.get('evalue')}".strip()
        return False, "papermill recorded an exception"
    if pm.get("status") not in (None, "completed") or not pm:
        return False, f"papermill status {pm.get('status')!r}"
    return True, ""


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


def read_status(out_dir: Path) -> dict:
    p = Path(out_dir) / STATUS_FILE
    try:
        return json.loads(p.read_text()) if p.is_file() else {}
    except json.JSONDecodeError:
        return {}


# -- page units -----------------------------------------------------------------------------------------
def settings_fingerprint(study) -> str:
    """12 hex digits of sha1 over the resolved study settings (overrides merged): what made a page."""
    return hashlib.sha1(json.dumps(study.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:12]


def _write_status(out_dir: Path, status: dict) -> None:
    """``status.json`` replaced at once: a kernel's unit watch and ``reproduce`` never see half of it."""
    write_atomic(Path(out_dir) / STATUS_FILE, json.dumps(status, indent=1))


@contextlib.contextmanager
def _status_update(out_dir: Path):
    """``with _status_update(out) as status:`` read, change and write ``status.json`` under an ``flock`` on
    ``.status.lock``: a kernel's unit watch and a second ``reproduce`` of the profile never undo each other's
    rows (each writer changes only its own rows of the file as it is now)."""
    out_dir = Path(out_dir)
    with open(out_dir / STATUS_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        status = read_status(out_dir)
        yield status
        _write_status(out_dir, status)


def code_fingerprint(notebook: Path, package: str | None = None) -> str:
    """12 hex digits of sha1 over the code that renders a page: the notebook's source and vipar's package
    (every ``.py`` and ``.yaml`` file of ``vipar_lib``, by relative path and content; ``package``: that
    digest, when the caller has it already)."""
    h = hashlib.sha1((package or _package_digest()).encode())
    h.update(Path(notebook).read_bytes())
    return h.hexdigest()[:12]


def _package_digest() -> str:
    pkg = Path(__file__).resolve().parents[1]                  # vipar_lib, wherever it is installed
    h = hashlib.sha1()
    for p in sorted(q for q in pkg.rglob("*") if q.suffix in (".py", ".yaml") and q.is_file()):
        h.update(p.relative_to(pkg).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


PAGE_TABLES = {"00_data": (), **{nb: (t,) for nb, t in TABLE_OF.items()}}   # other pages: every table


def _stat(p: Path) -> str:
    try:
        st = p.stat()
    except OSError:
        return "-"
    return f"{st.st_size} {st.st_mtime_ns}"


def inputs_fingerprint(study, page: str | None = None) -> str:
    """12 hex digits of sha1 over what a page reads besides its settings and code.

    * the run directories of the study's plan (their hashes hold the dataset's identity: its lists and
      videos, a prepared copy);
    * what the page's tables read from the run store (:data:`PAGE_TABLES`; every table for the summary,
      the released-logits page and a page it does not know): each run's ``final.json`` and each logits
      file, by size and mtime, so a run trained or evaluated again under the same hash (``--force``)
      renders the page again, while runs of other tables, trained after the page, leave it current;
    * the files of the release folder (name and size; it may appear after a page said it was missing).
    """
    from ..paper import TABLES
    from ..study.plan import plan_study
    plan = plan_study(study)
    h = hashlib.sha1("\n".join(sorted(r.dir.name for r in plan.runs.values())).encode())
    tables = PAGE_TABLES.get(page, TABLES) if page is not None else TABLES
    if tables:
        for r in plan.runs_for(tables):
            h.update(f"\n{r.dir.name}/final.json {_stat(r.dir / 'final.json')}".encode())
        for q in plan.requests(tables):
            p = plan.logits_path(q)
            h.update(f"\n{p.parent.parent.name}/{p.name} {_stat(p)}".encode())
    rel = resolve(study.release.dir) if study.release.dir else None
    if rel is not None and rel.is_dir():
        for p in sorted(rel.rglob("*")):
            parts = p.relative_to(rel).parts
            if p.is_file() and not any(x.startswith(".") for x in parts):
                h.update(f"\n{'/'.join(parts)} {p.stat().st_size}".encode())
    else:
        h.update(b"\nno release folder")
    return h.hexdigest()[:12]


def _snapshot(out_dir: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime_ns)}`` of the files a notebook may write under ``out_dir``."""
    snap = {}
    for p in Path(out_dir).rglob("*"):
        rel = p.relative_to(out_dir).as_posix()
        if p.is_file() and rel not in _NOT_UNIT and not rel.endswith(".error.txt") and not p.name.startswith("."):
            st = p.stat()
            snap[rel] = (st.st_size, st.st_mtime_ns)
    return snap


def _sha1(p: Path) -> str:
    with open(p, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def _unit(out_dir: Path, name: str, before: dict) -> dict[str, list]:
    """The files of a page: what the notebook's run created or changed, its HTML and executed notebook:
    ``{relative path: [sha1, size, mtime_ns]}``."""
    after = _snapshot(out_dir)
    rels = {r for r, st in after.items() if before.get(r) != st} | {f"{name}.html", f"{name}.ipynb"}
    return {r: [_sha1(out_dir / r), *after[r]] for r in sorted(rels) if r in after}


def _changed(out_dir: Path, unit: dict) -> str:
    """The first file of a unit that is missing or no longer holds what was recorded ("" when all do)."""
    for rel, (sha, size, mtime) in unit.items():
        p = out_dir / rel
        try:
            st = p.stat()
        except OSError:
            return f"{rel} is missing"
        if (st.st_size, st.st_mtime_ns) != (size, mtime) and _sha1(p) != sha:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime))
            return f"{rel} was rewritten ({when}) after this page was rendered"
    return ""


def page_state(out_dir: Path, name: str, entry: dict | None, settings: str | None = None,
               code: str | None = None, inputs: str | None = None) -> tuple[bool, str]:
    """Whether a page is current: rendered from a good run, with ``settings``, by ``code`` and from ``inputs``
    (each when given: :func:`code_fingerprint`, :func:`inputs_fingerprint`), and every file of its unit as that
    run wrote it. Returns ``(current, why not)``."""
    if not entry:
        return False, "not run yet"
    if entry.get("status") != "ok":
        return False, entry.get("stale") or f"it {entry.get('status')} last time"
    if "unit" not in entry:
        return False, "rendered before pages recorded their settings and files"
    if settings is not None and entry.get("settings") != settings:
        return False, f"settings changed (the page has {entry.get('settings')}, asked for {settings})"
    if code is not None and entry.get("code") != code:
        return False, "vipar's code or the notebook changed since the page was rendered"
    if inputs is not None and entry.get("inputs") != inputs:
        return False, ("the study's inputs changed since the page was rendered (its dataset, the runs or logits it "
                       "reads, or the released files)")
    why = _changed(Path(out_dir), entry["unit"])
    if why:
        return False, why
    good, err = notebook_ok(Path(out_dir) / f"{name}.ipynb")
    return (True, "") if good else (False, err)


_STALE_MARK = "<!-- vipar: stale page -->"


def _mark_html(page: Path, reason: str, profile: str, name: str) -> None:
    """A banner at the top of a stale page's HTML (once)."""
    try:
        text = page.read_text()
    except OSError:
        return
    if _STALE_MARK in text or "<body" not in text:
        return
    head, rest = text.split("<body", 1)
    tag, body = rest.split(">", 1)
    banner = (f"{_STALE_MARK}<div style='background:#fdecea;border-left:6px solid #b00020;padding:.8em 1em;"
              f"margin:1em;font-family:system-ui,sans-serif'><b>Out of date.</b> {html.escape(reason)}: the tables "
              "and figures beside this page no longer hold what it shows. Rerun it: <code>vipar reproduce --profile "
              f"{html.escape(profile)} --only {html.escape(name)}</code>.</div>")
    page.write_text(f"{head}<body{tag}>{banner}{body}")


def mark_stale_pages(out_dir: Path, status: dict, profile: str) -> list[str]:
    """Mark every ok page whose unit changed as stale (status row and HTML banner); returns their names."""
    out_dir, marked = Path(out_dir), []
    for name, entry in status.items():
        if not isinstance(entry, dict) or entry.get("status") != "ok" or "unit" not in entry:
            continue
        why = _changed(out_dir, entry["unit"])
        if why:
            entry.update(status="stale", stale=why)
            _mark_html(out_dir / f"{name}.html", why, profile, name)
            marked.append(name)
    return marked


_WATCHED: set[str] = set()


def watch_page_units(study) -> None:
    """In a notebook kernel outside ``vipar reproduce``: after every cell, mark the rendered pages whose files this
    run rewrote as stale, and rewrite the index. Does nothing under ``reproduce`` or outside IPython."""
    if os.environ.get(REPRODUCE_ENV):
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    out_dir = study.reports_path
    if ip is None or str(out_dir) in _WATCHED:
        return
    _WATCHED.add(str(out_dir))
    ip.events.register("post_run_cell", lambda *_: _check_units(out_dir, study.profile, study.synthetic))


def _check_units(out_dir: Path, profile: str, synthetic: bool) -> None:
    try:
        if not read_status(out_dir):
            return
        with _status_update(out_dir) as status:
            marked = mark_stale_pages(out_dir, status, profile)
        if marked:
            notebooks = NOTEBOOKS if set(status) <= set(NOTEBOOKS) else tuple(status)
            write_index(out_dir, profile, status, synthetic, notebooks)
    except OSError as e:                # a read-only reports folder: say so once per cell, never fail the cell
        print(f"vipar: could not mark the stale pages of {out_dir} ({e.strerror})", file=sys.stderr)


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"


def reproduce(profile: str = "demo", only: list[str] | None = None, force: bool = False,
              reports_dir: Path | None = None, overrides: dict | None = None, notebooks_dir: Path | None = None,
              notebooks: tuple[str, ...] = NOTEBOOKS, dry_run: bool = False, log=print) -> dict:
    """Run the notebooks of ``profile``; returns ``{"ok": [...], "ran": [...], "failed": {name: error}, "index": path,
    "status": {...}}`` (``ran``: the notebooks executed this time; the other ``ok`` ones were current and kept).

    Every setting is checked before anything runs. A page is kept only when it is current
    (:func:`page_state`: the same settings, every file of its unit unchanged); ``dry_run``: the
    profile's full-size dry run (:mod:`vipar_lib.study.dryrun`), in its own run store and reports folder.
    """
    overrides = dict(overrides or {})
    if dry_run:
        overrides = merge(dry_run_overrides(load_study(profile, overrides)), overrides)
    if reports_dir is not None:
        overrides["reports_dir"] = str(Path(reports_dir).resolve() / overrides.get("profile", profile))
    study = load_study(profile, overrides)             # every setting checked before anything runs
    names = list(notebooks)
    if only:
        bad = sorted(set(only) - set(notebooks))
        if bad:
            raise ValueError(f"--only: unknown notebook(s) {bad}; allowed: {list(notebooks)}")
        names = [n for n in notebooks if n in only]
    out_dir = study.reports_path
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(study, profile, overrides, Path(notebooks_dir or REPO_DIR / "notebooks"), out_dir, log)
    status = read_status(out_dir)
    res = {"ok": [], "ran": [], "failed": {}}
    t_start = time.time()
    for i, name in enumerate(names, 1):
        current, why = page_state(out_dir, name, status.get(name), run.settings, run.code(name),
                                  inputs_fingerprint(study, name))
        where = f"[{study.profile}] {i}/{len(names)} {name}"
        if current and not force:
            log(f"{where}: done in an earlier run with these settings, kept (--force re-runs it)")
            res["ok"].append(name)
            continue
        remaining = sum(status.get(n, {}).get("seconds", 0) for n in names[i - 1:])
        eta = f", ETA {_fmt_s(remaining)} (previous run)" if remaining else ""
        log(f"{where}: running ({'--force' if current else why}; elapsed {_fmt_s(time.time() - t_start)}{eta})")
        row = run.one(name)
        with _status_update(out_dir) as status:
            status[name] = row
        if status[name]["status"] == "ok":
            res["ok"].append(name)
            res["ran"].append(name)
        else:
            res["failed"][name] = status[name]["error"]
            log(f"{where} FAILED: {status[name]['error']}")
    with _status_update(out_dir) as status:
        res["stale"] = mark_stale_pages(out_dir, status, study.profile)    # pages a later notebook made stale
    for name in res["stale"]:
        log(f"[{study.profile}] {name}: marked stale: {status[name]['stale']}")
    res["ok"] = [n for n in res["ok"] if n not in res["stale"]]
    index = write_index(out_dir, study.profile, status, study.synthetic, notebooks, run.settings)
    log(f"[{study.profile}] {len(res['ok'])} notebook(s) ok ({len(res['ran'])} run, "
        f"{len(res['ok']) - len(res['ran'])} kept), {len(res['failed'])} failed in {_fmt_s(time.time() - t_start)}; "
        f"index: {index}")
    return {**res, "index": index, "status": status}


class _Run:
    """One ``reproduce`` call: runs a notebook with papermill, renders its HTML, records its unit."""

    def __init__(self, study, profile: str, overrides: dict, notebooks_dir: Path, out_dir: Path, log):
        self.study, self.profile, self.overrides = study, profile, overrides
        self.notebooks_dir, self.out_dir, self.log = notebooks_dir, out_dir, log
        self.settings = settings_fingerprint(study)
        self.package = _package_digest()

    def code(self, name: str) -> str:
        return code_fingerprint(self.notebooks_dir / f"{name}.ipynb", self.package)

    def one(self, name: str) -> dict:
        """Execute and render ``name``; its new ``status.json`` row (ok with its unit, or failed with the error)."""
        t0, executed = time.time(), self.out_dir / f"{name}.ipynb"
        before = _snapshot(self.out_dir)
        row = {"seconds": 0.0, "when": "", "settings": self.settings, "code": self.code(name),
               "overrides": self.overrides}
        try:
            self._execute(name, executed)
            good, err = notebook_ok(executed)
            if not good:
                raise RuntimeError(err)
            row.update(status="ok", unit=_unit(self.out_dir, name, before),
                       inputs=inputs_fingerprint(self.study, name))    # after the run: it may train, make data
        except Exception as e:  # one failed notebook must not stop the others
            (self.out_dir / f"{name}.error.txt").write_text(traceback.format_exc())
            row.update(status="failed", error=_error(e, executed))
        row.update(seconds=round(time.time() - t0, 1), when=time.strftime("%Y-%m-%d %H:%M"))
        return row

    def _execute(self, name: str, executed: Path) -> None:
        import papermill as pm
        old = os.environ.get(REPRODUCE_ENV)
        os.environ[REPRODUCE_ENV] = name            # the kernel inherits it: its own unit watch stays off
        try:
            pm.execute_notebook(str(self.notebooks_dir / f"{name}.ipynb"), str(executed),
                                parameters={"profile": self.profile, "overrides": self.overrides}, cwd=str(REPO_DIR),
                                progress_bar=False, kernel_name="python3", kernel_manager_class=_kernel_manager_class())
        finally:
            if old is None:
                os.environ.pop(REPRODUCE_ENV, None)
            else:
                os.environ[REPRODUCE_ENV] = old
            if executed.is_file():
                render_html(executed, self.out_dir / f"{name}.html", self.profile)


def _error(e: Exception, executed: Path) -> str:
    """The notebook's own error line when papermill recorded one, else the exception's last line."""
    good, err = notebook_ok(executed)
    if not good and err not in ("not run", "papermill recorded an exception"):
        return err
    msg = str(e).strip().splitlines()[-1] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if not msg.startswith(type(e).__name__) else msg


def _f(x, d=1, sign=False):
    return fmt.num(x, d, sign)


def _page_state_html(n: str, st: dict | None, settings: str | None) -> str:
    """A page's row in the index: its status, and the settings that made it."""
    if st is None:
        return "not run yet"
    if st["status"] == "failed":
        return f"<span class='bad'>failed: {html.escape(st.get('error', ''))}</span>, {st.get('when', '')}"
    if st["status"] == "stale":
        return (f"<span class='bad'>stale: {html.escape(st.get('stale', ''))}; rerun: <code>vipar reproduce "
                f"--only {html.escape(n)}</code></span>, rendered {st.get('when', '')}")
    text = f"ok, {st['seconds']:.0f} s, {st.get('when', '')}"
    if st.get("settings"):
        over = {k: v for k, v in (st.get("overrides") or {}).items() if k != "reports_dir"}
        shown = json.dumps(over, separators=(", ", ": "))
        text += (f"; settings <code>{html.escape(st['settings'])}</code>"
                 + (f" (overrides <code>{html.escape(shown[:160])}</code>)" if over else " (the profile's own)"))
        if settings and st["settings"] != settings:
            text += " — <span class='bad'>other settings than the last <code>vipar reproduce</code></span>"
    return text


def write_index(out_dir: Path, profile: str, status: dict, synthetic: bool, notebooks=NOTEBOOKS,
                settings: str | None = None) -> Path:
    """``index.html``: links with every notebook's last status and the settings that made it (``settings``: those of
    the ``reproduce`` call writing the index), then the headline from ``summary.json``."""
    out_dir = Path(out_dir)
    summary = {}
    if (out_dir / "summary.json").is_file():
        try:
            summary = json.loads((out_dir / "summary.json").read_text())
        except json.JSONDecodeError:
            summary = {}
    warn = ("<p class='warn'><b>Synthetic data.</b> The numbers of these reports come from the synthetic dataset "
            f"of the <code>{profile}</code> profile. They test the pipeline and show the direction of effects on a "
            "toy problem; they are <b>not</b> a reproduction of the paper's UCF101 results. Compare effects, not "
            "accuracies." + _released_exception(out_dir) + "</p>") if synthetic else ""
    items = []
    for n in notebooks:
        state = _page_state_html(n, status.get(n), settings)
        link = f"<a href='{n}.html'>{html.escape(TITLES.get(n, n))}</a>" if (out_dir / f"{n}.html").is_file() \
            else html.escape(TITLES.get(n, n))
        t = TABLE_OF.get(n)
        csv = f"; <a href='{t}.csv'>{t}.csv</a>" if t and (out_dir / f"{t}.csv").is_file() else ""
        items.append(f"<li>{link} <small>({state}{csv})</small></li>")
    headline = _headline(summary) if summary else "<p>No summary yet (the summary notebook did not run or failed).</p>"
    others = sorted(p.parent.name for p in out_dir.parent.glob("*/index.html") if p.parent != out_dir)
    if others:
        headline += ("<h2>Other profiles</h2><ul>" + "".join(f"<li><a href='../{html.escape(o)}/index.html'>"
                                                              f"{html.escape(o)}</a></li>" for o in others) + "</ul>")
    headline = _released_section(out_dir) + headline
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vipar reports ({profile})</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:14px;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;
text-align:left}}th{{background:#f3f3f3}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}
.warn{{background:#fff4e5;border-left:5px solid #f0a020;padding:.6em 1em}}.bad{{color:#b00020}}
.real{{background:#eef7ee;border-left:5px solid #2e8b57;padding:.2em 1em .6em;margin:1em 0 1.5em}}
caption{{text-align:left;font-weight:bold;padding:.3em 0}}</style></head><body>
<h1>vipar: DeepBlue VIPriors 2020 reproduction — profile <code>{profile}</code></h1>
{warn}
<p>Index written {time.strftime('%Y-%m-%d %H:%M')} by <code>vipar reproduce --profile {profile}</code>.
Paper numbers are the paper's (UCF101); every other number was computed by the run that wrote the report.</p>
<h2>Reports</h2><ul>{''.join(items)}</ul>
{headline}
</body></html>"""
    p = out_dir / "index.html"
    p.write_text(page)
    return p


def _claim_html(cc: dict) -> str:
    a, g = cc["accuracy"], cc["gains"]
    n = len(cc.get("seeds", [])) or 1
    gain = lambda x: fmt.with_ci(x["gain"], x["low"], x["high"], effect=True, resolved=x["resolved"])  # noqa: E731
    acc = lambda k: fmt.with_ci(a[k], *cc.get("accuracy_ci", {}).get(k, (None, None)), unit="%")  # noqa: E731
    verdict = ("the sum beats both (resolved)" if cc["sum_beats_both"]
               else "the sum does not beat both with a resolved margin")
    where = f"means of {n} seeds, intervals over seeds and test videos" if n > 1 else \
        "a single run, intervals over test videos only"
    return (f"<p><b>The paper's central claim</b> ({html.escape(cc['claim'])}; {where}): RGB {acc('rgb')}, "
            f"residual frames {acc('diff')}, their sum {acc('sum')} — gain over RGB {gain(g['rgb'])}, "
            f"over Diff {gain(g['diff'])}: {verdict}; {_f(cc['cells']['only RGB right'], 0)} test videos are right "
            f"only with RGB, {_f(cc['cells']['only Diff right'], 0)} only with Diff.</p>")


def _findings_html(findings: list[dict], n: int) -> str:
    d = lambda f: fmt.places(f["low"], f["high"], effect=True, resolved=f["resolved"] == "yes")  # noqa: E731
    rows = "".join(f"<tr><td>{html.escape(f['finding (paper)'])}</td><td>{html.escape(f['rows'])}</td>"
                   f"<td class=n>{_f(f['paper Δ'], 1, True)}</td>"
                   f"<td class=n>{_f(f['this run Δ'], d(f), True)}</td>"
                   + (f"<td class=n>{fmt.per_seed(f.get('per seed'), d(f), True)}</td>" if n > 1 else "")
                   + f"<td class=n>{fmt.interval(f['low'], f['high'], d(f), True)}</td>"
                   f"<td>{f['resolved']}{'' if f.get('seeds', 1) > 1 else ' (single run)'}</td><td>{f['agrees']}</td>"
                   "</tr>" for f in findings)
    ci = "95% CI (seeds × videos)" if n > 1 else "95% CI (test videos only)"
    return ("<table><tr><th>finding (paper)</th><th>rows</th><th>paper Δ</th><th>this run Δ</th>"
            + ("<th>Δ per seed</th>" if n > 1 else "") + f"<th>{ci}</th><th>resolved?</th><th>agrees?</th></tr>"
            f"{rows}</table>")


def _rows_html(rows: list[dict], synthetic: bool, chance, n: int) -> str:
    body = []
    for r in rows:
        res = str(r.get("resolved", ""))
        eff = (fmt.with_ci(r["effect"], r["effect_low"], r["effect_high"], effect=True, resolved=res.startswith("yes"))
               if r.get("effect") is not None else ("reference" if res == "reference" else "–"))
        d = fmt.places(r["ci_low"], r["ci_high"])
        cells = [html.escape(r["table"]), html.escape(r["id"]), html.escape(r["method"]), eff,
                 _f(r.get("paper_effect"), 1, True), fmt.with_ci(r["run"], r["ci_low"], r["ci_high"])]
        if n > 1:
            cells.append(fmt.per_seed(r.get("run_seeds"), d))
        cells += [_f(r["mean_class"], d), _f(r["paper"])]
        if not synthetic:
            cells.append(_f(r["run"] - r["paper"], d, True) if r.get("paper") is not None else "–")
        body.append("<tr>" + "".join(f"<td{' class=n' if i >= 3 else ''}>{c}</td>" for i, c in enumerate(cells))
                    + "</tr>")
    head = (["table", "row", "method", "this run: Δ vs reference [95% CI]", "paper: Δ", "this run: top-1 [95% CI]"]
            + (["top-1 per seed"] if n > 1 else []) + ["mean per-class", "paper: top-1"]
            + ([] if synthetic else ["run − paper"]))
    where = (f"each row's mean over {n} seeds, intervals over seeds and test videos" if n > 1 else
             "one seed per row (single runs), intervals over test videos only")
    return (f"<h2>All rows (Tables 1–4)</h2><table><caption>Accuracies in % (chance {_f(chance)}%); effects in "
            f"points against each table's reference row, on the same test videos; {where}.</caption><tr>"
            + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(body) + "</table>")


def _headline(summary: dict) -> str:
    synthetic = summary.get("synthetic", True)
    chance = summary.get("chance")
    reading = summary.get("reading", "text")
    t = summary.get("tally", {})
    n = int(t.get("seeds", 1) or 1)
    basis = (f"by this run's {n} seeds (the 95% interval over seeds and test videos excludes 0)" if n > 1 else
             "by a single run (the paired 95% interval over test videos only excludes 0; a rerun with another seed "
             "may not agree)")
    parts = [f"<h2>Headline: the paper's findings, checked ({html.escape(reading)} reading)</h2>"
             f"<p>{t.get('resolved', 0)} of {t.get('findings', 0)} findings are resolved {basis}; "
             f"{t.get('agree', 0)} go the paper's way, {t.get('against', 0)} against it. "
             f"Chance is {_f(chance)}% top-1.</p>"]
    if summary.get("central_claim"):
        parts.append(_claim_html(summary["central_claim"]))
    parts.append(_findings_html(summary.get("findings", []), n))
    parts.append(_rows_html(summary.get("rows", []), synthetic, chance, n))
    return "\n".join(parts)


def _pc(x, d=1, sign=False):
    """A fraction as percent text."""
    return _f(None if x is None else 100 * x, d, sign)


def _pci(x, lo, hi, effect=False):
    """A fraction and its interval as percent text, by the one rule (:mod:`vipar_lib.report.fmt`)."""
    p = lambda v: None if v is None else 100 * v  # noqa: E731
    return fmt.with_ci(p(x), p(lo), p(hi), effect=effect)


def _released_exception(out_dir: Path) -> str:
    """The synthetic warning's one exception, when notebook 06 wrote ``released.json``."""
    try:
        found = json.loads((Path(out_dir) / "released.json").read_text()).get("found")
    except (OSError, ValueError, AttributeError):
        found = False
    if not found:
        return ""
    return (" <b>Exception:</b> the report and the section marked <i>authors' released logits, real UCF101 test "
            "set</i> re-score the authors' own predictions on the real UCF101 test set.")


def _released_section(out_dir: Path) -> str:
    """The real-data rows from ``released.json`` (notebook 06), set apart from the synthetic ones; "" without it."""
    p = Path(out_dir) / "released.json"
    try:
        j = json.loads(p.read_text()) if p.is_file() else None
    except json.JSONDecodeError:
        j = None
    if not j:
        return ""
    label = html.escape(j.get("label", "authors' released logits, real UCF101 test set"))
    title = f"<h2>Real data: {label}</h2>"
    if not j.get("found"):
        return (f"<div class='real' style='border-left-color:#999;background:#f5f5f5'>{title}"
                "<p><b>The authors' release was not found</b>: "
                f"{html.escape(str(j.get('error', '')))}. Get it with <code>vipar released fetch</code> (or download "
                "the repository's zip from GitHub, github.com/xdw1995/123, and unpack it), then run "
                f"<code>vipar reproduce --profile {html.escape(str(j.get('profile', 'demo')))} --set "
                "release.dir=/path/to/release --only 06_released_logits</code>.</p></div>")
    sa, rd, sel, rng = j["sum_all"], j.get("rgb_diff"), j["selection"], j["range_top1"]
    op, tc, cf = sel["optimism"], sel["test_chosen"], sel["crossfit"]
    d_op = fmt.places(100 * op["ci_low"], 100 * op["ci_high"])      # as the released page rounds them
    rows = [("single released files (top-1)", f"{_pc(rng['min'])} – {_pc(rng['max'])}",
             f"{len(j['files'])} files; lowest {html.escape(rng['min_file'])}, highest {html.escape(rng['max_file'])}"),
            (f"plain sum of all {sa['files']} files (mean per-class)",
             _pci(sa["mean_class"], sa["ci_low"], sa["ci_high"]), "no selection")]
    if rd:
        rows.append(("RGB + Diff: gain of the sum over the better input (top-1, points)",
                     _pci(rd["gain_top1"], rd["gain_top1_ci_low"], rd["gain_top1_ci_high"], effect=True),
                     f"{html.escape(rd.get('pair', rd['rgb']))}: RGB {_pc(rd['rgb_top1'])}, Diff "
                     f"{_pc(rd['diff_top1'])}, sum {_pc(rd['sum_top1'])}; videos only Diff gets right: "
                     f"{rd['only_diff']}, only RGB: {rd['only_rgb']}"))
    b4 = j.get("best_table4")
    if b4:
        rows.append((f"best paper recipe rebuilt from the released files ({html.escape(b4['id'])}, mean per-class)",
                     _pc(b4["mean_class"]), f"paper: {_f(b4['paper_acc'])}; rebuilt recipes lack some of their rows"))
    rows += [("greedy ensemble chosen on the test labels (fusion.py's way, mean per-class)",
              _pc(tc["mean_class"], d_op), "reported on the labels it was chosen on"),
             (f"the same choice cross-fitted over random halves (mean per-class, {cf['repeats']} halvings)",
              _pc(cf["mean_class"], d_op), "chosen on one half, reported on the other"),
             ("optimism of choosing on test (points)",
              _pci(op["mean_class"], op["ci_low"], op["ci_high"], effect=True),
              "test-chosen minus cross-fitted, paired 95% CI")]
    body = "".join(f"<tr><td>{a}</td><td class=n style='white-space:nowrap'>{b}</td><td>{c}</td></tr>"
                   for a, b, c in rows)
    files = "".join(f"<tr><td>{html.escape(f['file'])}</td><td>{html.escape(str(f.get('input') or '?'))}</td>"
                    f"<td>{html.escape(str(f.get('view') or '?'))}</td><td class=n>{f.get('interval') or '?'}</td>"
                    f"<td class=n style='white-space:nowrap'>{_pci(f['top1'], f['top1_ci_low'], f['top1_ci_high'])}"
                    f"</td><td class=n style='white-space:nowrap'>{_pci(f['mean_class'], f['ci_low'], f['ci_high'])}"
                    "</td></tr>"
                    for f in j["files"])
    left = f" {len(j['problems'])} file(s) could not be read and were left out." if j.get("problems") else ""
    return (f"<div class='real'>{title}<p>These rows are <b>not synthetic</b>: they re-score the pre-softmax test "
            f"logits the DeepBlue team published (github.com/xdw1995/123) against the official UCF101 labels of the "
            f"{j['videos']:,} VIPriors test videos ({j['classes']} classes). No model of this study made them; they do "
            f"not depend on the profile. Accuracies in %, 95% bootstrap intervals over test videos.{left} "
            "Details: the report <i>Authors' released logits</i> above; "
            "<a href='released_files.csv'>released_files.csv</a>.</p>"
            f"<table><caption>{label[:1].upper() + label[1:]}: headline numbers</caption>"
            "<tr><th>what</th><th>value</th><th>note</th></tr>"
            f"{body}</table><details open><summary>Per-file rows ({len(j['files'])} files, {label})</summary><table>"
            "<tr><th>file</th><th>input</th><th>view</th><th>interval</th><th>top-1 [95% CI]</th>"
            f"<th>mean per-class [95% CI]</th></tr>{files}</table></details></div>")
