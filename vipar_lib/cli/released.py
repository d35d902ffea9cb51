"""``vipar released``: score the authors' released test logits; ``vipar released fetch [DEST]`` gets them.

::

    vipar released RELEASE_DIR --lists UCF_LISTS_DIR [--json] [--bootstrap N]   # one row per logits file + the sum
    vipar released fetch [DEST]                                                 # git clone of xdw1995/123

RELEASE_DIR is a clone of the release (GitHub ``xdw1995/123``) or any folder holding its ``*.txt``
logits; UCF_LISTS_DIR is the official ``ucfTrainTestlist/`` (the test labels). Accuracies are
scored on the real UCF101 test set of the VIPriors 2020 split (3,783 videos). A file that cannot be
read as logits is named with its line and left out; a folder without any logits file is a one-line
error. Parsed arrays are cached (``runs/released-cache/`` by default), so reruns are instant.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..metrics import decimals
from .registry import JSON, arg, command

LABEL = "authors' released logits, real UCF101 test set"
DEFAULT_URL = "https://github.com/xdw1995/123.git"
URL_ENV = "VIPAR_RELEASE_URL"


def _default_dest() -> Path:
    from .. import REPO_DIR
    return REPO_DIR / "data" / "deepblue-release"


def _default_cache() -> Path:
    from .. import REPO_DIR
    return REPO_DIR / "runs" / "released-cache"


def _positive(text: str) -> int:
    import argparse
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


@command("released", "score the authors' released test logits on the real UCF101 test set "
                     "(`vipar released fetch [DEST]` clones the release)",
         arg("release_dir", metavar="RELEASE_DIR",
             help="a clone of xdw1995/123, or any folder holding its *.txt logits; the word 'fetch' clones the "
                  "release instead (write ./fetch for a folder of that name)"),
         arg("dest", nargs="?", default=None, metavar="DEST",
             help="with fetch: the folder to clone into (default data/deepblue-release in the repository, the ucf101 "
                  "profile's release.dir)"),
         arg("--lists", type=Path, default=None, metavar="UCF_LISTS_DIR",
             help="the official ucfTrainTestlist/ folder (testlist01.txt gives the test labels); required to score"),
         arg("--bootstrap", type=_positive, default=1000, metavar="N",
             help="bootstrap resamples for the 95%% intervals (default 1000)"),
         arg("--seed", type=int, default=0, help="seed of the bootstrap resamples (default 0)"),
         arg("--cache-dir", type=Path, default=None,
             help="where parsed arrays are cached (default runs/released-cache in the repository)"),
         arg("--no-cache", action="store_true", help="parse every file again and write no cache"),
         arg("--full", action="store_true",
             help="with --json: add every analysis of notebook 06 (table3, rgb_vs_diff, table4, selection, per_class)"),
         arg("--url", default=None,
             help=f"with fetch: the git URL to clone (default ${URL_ENV} or {DEFAULT_URL})"),
         arg("--timeout", type=float, default=300.0,
             help="with fetch: give up after this many seconds (default 300)"),
         JSON)
def released(a):
    if a.release_dir == "fetch":
        return fetch(a.dest, a.url, a.timeout)
    from ..released import ReleasedError
    if a.dest is not None:
        raise ReleasedError(f"unexpected argument {a.dest!r}: DEST goes with 'vipar released fetch' only")
    if a.lists is None:
        raise ReleasedError("--lists UCF_LISTS_DIR is required to score: the official ucfTrainTestlist/ folder "
                            "(its testlist01.txt gives the test labels)")
    res = score(Path(a.release_dir), a.lists, None if a.no_cache else (a.cache_dir or _default_cache()),
                a.bootstrap, a.seed, a.full)
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        print(render_text(res))
    return 0


# -------------------------------------------------------------------------------------------------- score
def score(release_dir: Path, lists_dir: Path, cache_dir: Path | None, n_boot: int = 1000, seed: int = 0,
          full: bool = False) -> dict:
    """The JSON object of ``vipar released``: ``files``, ``sum_all`` and the rest (fractions in [0, 1])."""
    from .. import released as R
    t0 = time.perf_counter()
    if full:
        res = R.report(release_dir, lists_dir, cache_dir=cache_dir, n_boot=n_boot, seed=seed)
    else:
        rel = R.load_release(release_dir, lists_dir, cache_dir)
        if not rel.files:
            raise R.ReleasedError(f"{release_dir}: no logits file could be parsed: "
                                  + "; ".join(f"{_where(p)}: {p['problem']}" for p in rel.problems[:3]))
        sc = R.score_files(rel, n_boot=n_boot, seed=seed)
        cat = R.catalogue()["files"]
        res = {"source": {"release_dir": str(rel.root), "repo": R.RELEASE_REPO, "commit": R.RELEASE_COMMIT,
                          "lists_dir": str(rel.lists_dir), "videos": len(rel.video), "classes": len(rel.classes)},
               "problems": rel.problems, "skipped": rel.skipped,
               "uncatalogued": [s for s in rel.files if s not in cat],
               "absent": sorted(set(cat) - set(rel.files)),
               "files": sc["files"], "sum_all": sc["sum_all"], "ci": sc["ci"],
               "cache": {"dir": str(cache_dir) if cache_dir is not None else None, "parsed": rel.parsed,
                         "cached": rel.cached},
               "timing": {"load_s": round(rel.load_s, 3)}}
    res["timing"]["total_s"] = round(time.perf_counter() - t0, 3)
    return {"label": LABEL, **res}


def _where(p: dict) -> str:
    return p["file"] + (f":{p['line']}" if p.get("line") else "")


def render_text(res: dict) -> str:
    """One row per file (top-1, top-5, mean per-class, its 95% interval), then the sum of all files."""
    src = res["source"]
    files = res["files"]
    widths = sorted(100 * (f["ci_high"] - f["ci_low"]) for f in files.values())
    d = decimals(widths[len(widths) // 2]) if widths else 1
    name_w = max([len(s) for s in files] + [len(f"sum of all {len(files)} files"), 4])
    head = (f"{'file':<{name_w}}  {'model':<8} {'input':<5} {'int':>3}  {'view':<15} {'clips':>5}  "
            f"{'top-1':>6} {'top-5':>6} {'mean/class':>10}  95% CI (mean/class)")
    lines = [f"{LABEL[0].upper() + LABEL[1:]}: {src['repo']} @ {src['commit'][:7]}, {src['videos']:,} test videos, "
             f"{src['classes']} classes (labels: {src['lists_dir']})",
             "accuracies in %; the challenge metric is mean per-class top-1; * = read from the file name only", "",
             head, "-" * len(head)]

    def pct(x):
        return f"{100 * x:.{d}f}"

    def cell(f, key, width):
        v = f.get(key)
        txt = "?" if v is None else str(v)
        return f"{txt + ('*' if key in (f.get('name_only') or []) else ''):<{width}}"

    for stem, f in files.items():
        lines.append(f"{stem:<{name_w}}  {cell(f, 'model', 8)} {cell(f, 'input', 5)} "
                     f"{str(f.get('interval') or '?') + ('*' if 'interval' in (f.get('name_only') or []) else ''):>3}  "
                     f"{cell(f, 'view', 15)} {str(f.get('clips') or '?'):>5}  {pct(f['top1']):>6} {pct(f['top5']):>6} "
                     f"{pct(f['mean_class']):>10}  [{pct(f['ci_low'])}, {pct(f['ci_high'])}]")
    sa = res["sum_all"]
    lines += ["-" * len(head),
              f"{f'sum of all {len(files)} files':<{name_w}}  {'':<8} {'':<5} {'':>3}  {'':<15} {'':>5}  "
              f"{pct(sa['top1']):>6} {pct(sa['top5']):>6} {pct(sa['mean_class']):>10}  "
              f"[{pct(sa['ci_low'])}, {pct(sa['ci_high'])}]"]
    if res["problems"]:
        lines += ["", f"left out ({len(res['problems'])} file(s) that could not be read as logits; in no row above, "
                      "the sum included):"]
        lines += [f"  {_where(p)}: {p['problem']}" for p in res["problems"]]
    if res.get("uncatalogued"):
        lines.append(f"not in the catalogue (what they hold is unknown): {', '.join(res['uncatalogued'])}")
    if res["skipped"]:
        lines.append(f"skipped {len(res['skipped'])} other .txt file(s), not logits:")
        lines += [f"  {s['file']}: {s['reason']}" for s in res["skipped"]]
    ci = res["ci"]
    cache = res["cache"]
    lines.append(f"intervals: {int(100 * ci['level'])}% {ci['method']}, {ci['resamples']} resamples; "
                 + (f"cache {cache['dir']} ({len(cache['cached'])} read, {len(cache['parsed'])} parsed); "
                    if cache.get("dir") else "no cache; ")
                 + f"{res['timing']['total_s']:.1f} s")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- fetch
def manual_route() -> str:
    from ..released import RELEASE_COMMIT, RELEASE_REPO
    return (f"download https://github.com/{RELEASE_REPO}/archive/{RELEASE_COMMIT}.zip on a machine with a network "
            "and unpack it, or copy the release's *.txt logits into a folder; then run "
            "`vipar released FOLDER --lists ucfTrainTestlist/`")


def fetch(dest, url: str | None = None, timeout: float = 300.0) -> int:
    """``git clone`` the release into ``dest`` (then check out the pinned commit); offline: one line, rc 1."""
    from ..released import RELEASE_COMMIT, ReleasedError, find_logits_files
    dest = Path(dest) if dest else _default_dest()
    url = url or os.environ.get(URL_ENV) or DEFAULT_URL
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        try:
            found, _ = find_logits_files(dest)
        except ReleasedError:
            raise ReleasedError(f"{dest}: exists and is not an empty folder; choose another DEST") from None
        print(f"{dest}: already holds {len(found)} logits files; nothing fetched")
        return 0

    def offline(reason: str) -> int:
        print(f"vipar released fetch: could not clone {url} ({reason}); offline? Manual route: {manual_route()}",
              file=sys.stderr)
        return 1

    git = shutil.which("git")
    if git is None:
        return offline("git is not installed")
    created = not dest.exists()
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    cmd = [git, "-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=30", "clone", "--quiet", url, str(dest)]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        reason = None if p.returncode == 0 else (p.stderr.strip().splitlines() or [f"git exited {p.returncode}"])[-1]
    except subprocess.TimeoutExpired:
        reason = f"no answer within {timeout:g} s"
    if reason is not None:
        if created and dest.exists():
            shutil.rmtree(dest, ignore_errors=True)          # only the folder this command created
        return offline(reason.removeprefix("fatal: ").strip())
    pin = subprocess.run([git, "-C", str(dest), "checkout", "--quiet", RELEASE_COMMIT], env=env, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    head = subprocess.run([git, "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    note = "" if pin.returncode == 0 else f" (the pinned commit {RELEASE_COMMIT[:7]} is not in it; kept HEAD)"
    print(f"cloned {url} into {dest} at {head[:7]}{note}; score it: vipar released {dest} --lists "
          "/path/to/ucfTrainTestlist")
    return 0
