"""Released-logits benchmark: parse + score the authors' 18 test-logits files against numpy.loadtxt alone.

    python benchmarks/released_logits.py [--release DIR] [--lists UCF_LISTS_DIR] [--n-boot 1000] [--repeats 10]

Defaults read the byte-exact copy of the DeepBlue release in ``../shared/deepblue-release`` and the
official lists in ``../shared/data/ucfTrainTestlist``. Pinned to one CPU core (BLAS threads 1), it
measures side by side in one run:

* ``numpy.loadtxt`` alone on the same files (the reference: parsing only, nothing checked);
* parse + score (:func:`vipar_lib.released.load_release` without a cache, then
  :func:`~vipar_lib.released.score_files`: top-1, top-5, mean per-class accuracy and 95% bootstrap
  intervals of every file and of their sum);
* the whole report (:func:`vipar_lib.released.report`: also Table 3/4 on real data, RGB vs Diff,
  the selection-optimism analysis with its repeated random halves, per-class), first with an empty
  cache and then rerun on the filled cache.

Goal (issue #10): parse + score of all files, bootstrap included, <= 10 s on one core; a cached
rerun is instant next to parsing.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vipar_lib import released as R  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--release", type=Path, default=SHARED / "deepblue-release")
    ap.add_argument("--lists", type=Path, default=SHARED / "data" / "ucfTrainTestlist")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=10, help="random halves of the selection analysis")
    a = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    paths, _ = R.find_logits_files(a.release)
    mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{len(paths)} logits files, {mb:.1f} MB, in {a.release}; one core; bootstrap {a.n_boot} resamples")

    t = time.perf_counter()
    for p in paths:
        np.loadtxt(p)
    t_loadtxt = time.perf_counter() - t

    t = time.perf_counter()
    rel = R.load_release(a.release, a.lists)                       # no cache: every file parsed and checked
    t_parse = time.perf_counter() - t
    t = time.perf_counter()
    R.score_files(rel, n_boot=a.n_boot)
    t_score = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        R.report(a.release, a.lists, cache_dir=cache, n_boot=a.n_boot, repeats=a.repeats)
        t_report = time.perf_counter() - t
        t = time.perf_counter()
        cached = R.load_release(a.release, a.lists, cache)
        t_cached_load = time.perf_counter() - t
        t = time.perf_counter()
        rep = R.report(a.release, a.lists, cache_dir=cache, n_boot=a.n_boot, repeats=a.repeats)
        t_report_cached = time.perf_counter() - t
    assert not cached.parsed and len(cached.cached) == len(rel.files)
    assert len(rep["cache"]["cached"]) == len(rel.files)

    rows = [("numpy.loadtxt alone (parse only, no checks)", t_loadtxt),
            ("parse + check (load_release, no cache)", t_parse),
            ("score all files + sum, bootstrap (score_files)", t_score),
            ("parse + score, bootstrap included", t_parse + t_score),
            ("whole report, empty cache", t_report),
            ("load from cache (load_release, cached)", t_cached_load),
            ("whole report, cached rerun", t_report_cached)]
    w = max(len(r[0]) for r in rows)
    for name, s in rows:
        print(f"  {name:<{w}}  {s:7.2f} s")
    goal = "met" if t_parse + t_score <= 10 else "NOT met"
    print(f"parse + score / loadtxt alone: {(t_parse + t_score) / t_loadtxt:.2f}x; cached load / parse: "
          f"{t_cached_load / t_parse:.3f}x; goal parse + score <= 10 s: {goal}")


if __name__ == "__main__":
    main()
