"""The study: how each of the paper's tables is built from runs, shared by notebooks and tests.

A :class:`Study` holds one profile's parameters (the notebooks' ``parameters`` cell, or a
``params/<profile>/*.yaml`` file through papermill) and turns them into run configs. Runs live in
the run store, so a table whose runs finished is rebuilt from disk, and a notebook rerun after a
crash picks up at the run in flight.

Protocols (III.B), each a reading of the paper:

* **Table 1** — "After the accuracy of SlowFast reaches 50%, we saved it as a pre-trained model.
  Based on this pre-trained model we do more research, such as add ... modules": a base
  SlowFast-R50 (RGB) trains for ``base_epochs``; every Table-1 row, the base configuration
  included, is warm-started from it and fine-tuned for ``finetune_epochs`` (weights of added
  modules start fresh; ``warm_start.json`` lists them).
* **Table 2** — SlowFast rows use the final structure (ELU + POOL + ``tri`` kernel); each
  (depth, input) pair has its own base run and fine-tune, as above; R50-RGB is Table 1's
  last-but-one row itself. TSM rows: "we first used single-frame as input to train TSM ... we
  fine-tune TSM by using 16-frames": a single-frame 2D ResNet (shared by the shift and no-shift
  rows, since a shift does nothing on one frame) is fine-tuned on ``frames.tsm`` frames.
* **Table 3** — the Table-2 R50 runs (SlowFast RGB, SlowFast Diff, TSM with shift) evaluated
  under each view and frame interval; an interval-2 row reads frames 2 apart from a model
  trained with random interval 1 or 2.
* **Table 4** — sums of Table-3 logits following each recipe (see ``paper_tables.yaml``), plus a
  greedy ensemble chosen on validation and reported on test.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import REPO_DIR
from .engine.config import RunConfig, config_from_dict
from .engine.evaluate import evaluate_run
from .logits import load_logits
from .engine.runs import read_metrics
from .engine.train import train

__all__ = ["Study", "resolve_path"]


def resolve_path(p) -> Path:
    """Relative paths are relative to the repository, wherever the kernel runs."""
    p = Path(p).expanduser()
    return p if p.is_absolute() else REPO_DIR / p


@dataclass
class Study:
    profile: str = "smoke"
    dataset: dict = field(default_factory=lambda: {"kind": "synthetic", "root": "data/smoke", "classes": 4,
                                                   "groups": 4, "clips": 3, "seed": 0})
    runs_dir: str = "runs/smoke"
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    eval: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)     # per-model option overrides, e.g. {"slowfast_r50": {...}}
    frames: dict = field(default_factory=lambda: {"slowfast": 8, "tsm": 8})
    epochs: dict = field(default_factory=lambda: {"base": 2, "finetune": 1, "tsm_single": 1})
    bootstrap: int = 1000

    # -- data ---------------------------------------------------------------------------------
    @property
    def synthetic(self) -> bool:
        return self.dataset.get("kind", "synthetic") == "synthetic"

    def prepare(self) -> dict:
        """Generate the synthetic dataset if needed and write the VIPriors split. Idempotent."""
        from .data import splits as S
        ds = self.dataset
        kind = ds.get("kind", "synthetic")
        root = resolve_path(ds["root"])
        if kind == "synthetic":
            from .data.synth import generate
            opts = {k: ds[k] for k in ("classes", "groups", "clips", "seed") if k in ds}
            marker = root / "synth.json"
            if not marker.is_file() or json.loads(marker.read_text()).get("options") != opts:
                info = generate(root, progress=True, **opts)
                marker.write_text(json.dumps({"options": opts, "info": info}))
            lists, video_root = root / "ucfTrainTestlist", root / "UCF-101"
            split = S.vipriors_split(lists, group_disjoint=ds.get("group_disjoint", False))
        elif kind == "ucf101":
            lists = resolve_path(ds.get("lists", root.parent / "ucfTrainTestlist"))
            video_root = root
            split = S.vipriors_split(lists, group_disjoint=ds.get("group_disjoint", False))
        elif kind == "challenge":
            video_root = root
            split = S.read_challenge_layout(root)
        else:
            raise ValueError(f"dataset.kind={kind!r}; allowed: ['synthetic', 'ucf101', 'challenge']")
        split_dir = resolve_path(self.runs_dir) / "split"
        if not (split_dir / "train.txt").is_file():
            S.write_split(split, split_dir)
        return {"split": split, "split_dir": split_dir, "video_root": video_root}

    # -- configs ------------------------------------------------------------------------------
    def config(self, name: str, model: str, options: dict | None = None, input_type: str = "rgb",
               clip_len: int | None = None, epochs: int | None = None, init_from: str = "", **train_over) -> RunConfig:
        paths = self.prepare()
        family = "tsm" if model.startswith("tsm") else "slowfast" if model.startswith("slowfast") else "other"
        t = clip_len or self.frames.get(family, self.frames.get("slowfast", 8))
        opts = {**self.models.get(model, {}), **(options or {})}
        if model.startswith("slowfast") and "num_frames" not in opts:
            opts["num_frames"] = t
        d = {"name": name, "runs_dir": str(resolve_path(self.runs_dir)),
             "data": {**copy.deepcopy(self.data), "split_dir": str(paths["split_dir"]),
                      "video_root": str(paths["video_root"]), "input_type": input_type, "clip_len": t},
             "model": {"name": model, "options": opts},
             "train": {**self.train, **train_over, **({"epochs": epochs} if epochs else {}), "init_from": init_from},
             "eval": dict(self.eval)}
        return config_from_dict(d)

    def run(self, cfg: RunConfig) -> Path:
        return train(cfg)

    def logits(self, run: Path, view: str = "center", interval: int = 1, split: str = "test"):
        (p,) = evaluate_run(run, views=[view], interval=interval, split=split, progress=True)
        return load_logits(p)

    def cost(self, cfg: RunConfig, frames: int | None = None) -> tuple[int, float]:
        from .models.info import model_info
        paths = self.prepare()
        info = model_info(cfg.model.name, paths["split"].num_classes, frames or cfg.data.clip_len, cfg.data.crop_size,
                          **cfg.model.options)
        return info["params"], info["gflops"]

    # -- Table 1 ------------------------------------------------------------------------------
    def slowfast_base(self, model="slowfast_r50", input_type="rgb") -> Path:
        cfg = self.config(f"base_{model}_{input_type}", model, {}, input_type, epochs=self.epochs["base"])
        return self.run(cfg)

    def table1_configs(self) -> dict[str, RunConfig]:
        from .report.paper import paper_rows
        base = self.slowfast_base()
        return {r["id"]: self.config(f"t1_{r['id'].replace('.', '_')}", "slowfast_r50", r["options"], "rgb",
                                     epochs=self.epochs["finetune"], init_from=str(base))
                for r in paper_rows("table1")}

    def table1(self, view="center"):
        """Run (or reuse) every Table-1 row; return (DataFrame, {id: logits}, {id: run dir})."""
        from .report.paper import paper_rows
        from .report.tables import compare_table, result_row
        cfgs = self.table1_configs()
        runs, logits, rows = {}, {}, []
        for r in paper_rows("table1"):
            cfg = cfgs[r["id"]]
            runs[r["id"]] = self.run(cfg)
            logits[r["id"]] = self.logits(runs[r["id"]], view)
            params, gflops = self.cost(cfg)
            rows.append(result_row(r["id"], r["method"], r["acc"], logits[r["id"]], params, gflops, self.bootstrap))
        return compare_table(rows, logits, "T1.1", self.bootstrap), logits, runs

    # -- Table 2 ------------------------------------------------------------------------------
    def final_slowfast_options(self) -> dict:
        from .report.paper import paper_rows
        return dict(next(r for r in paper_rows("table1") if r["id"] == "T1.7")["options"])

    def table2_config(self, row: dict) -> RunConfig:
        if row["family"] == "slowfast":
            model = f"slowfast_r{row['depth']}"
            base = self.slowfast_base(model, row["input"])
            name = "t1_T1_7" if (model, row["input"]) == ("slowfast_r50", "rgb") else f"t2_{model}_{row['input']}"
            return self.config(name, model, self.final_slowfast_options(), row["input"],
                               epochs=self.epochs["finetune"], init_from=str(base))
        model = f"tsm_r{row['depth']}"
        single = self.run(self.config(f"tsm_single_{model}", model, {"shift": False}, row["input"], clip_len=1,
                                      epochs=self.epochs["tsm_single"]))
        return self.config(f"t2_{model}_{'shift' if row['shift'] else 'noshift'}", model, {"shift": row["shift"]},
                           row["input"], epochs=self.epochs["finetune"], init_from=str(single))

    def table2(self, view="center"):
        from .report.paper import paper_rows
        from .report.tables import compare_table, result_row
        runs, logits, rows = {}, {}, []
        for r in paper_rows("table2"):
            cfg = self.table2_config(r)
            runs[r["id"]] = self.run(cfg)
            logits[r["id"]] = self.logits(runs[r["id"]], view)
            params, gflops = self.cost(cfg)
            rows.append(result_row(r["id"], r["method"], r["acc"], logits[r["id"]], params, gflops, self.bootstrap,
                                   input=r["input"]))
        return compare_table(rows, logits, "T2.1", self.bootstrap), logits, runs

    # -- Table 3 ------------------------------------------------------------------------------
    def table3_runs(self) -> dict[tuple[str, str], Path]:
        from .report.paper import paper_rows
        t2 = {r["id"]: r for r in paper_rows("table2")}
        return {("slowfast", "rgb"): self.run(self.table2_config(t2["T2.1"])),
                ("slowfast", "diff"): self.run(self.table2_config(t2["T2.3"])),
                ("tsm", "rgb"): self.run(self.table2_config(t2["T2.5"]))}

    def table3(self, split="test"):
        """Every Table-3 row: (DataFrame, {row id: logits})."""
        from .report.paper import paper_rows
        from .report.tables import compare_table, result_row
        runs = self.table3_runs()
        logits, rows = {}, []
        for r in paper_rows("table3"):
            run = runs[(r["network"], r["input"])]
            lf = self.logits(run, r["view"], r["interval"], split)
            logits[r["id"]] = lf
            rows.append(result_row(r["id"], f"{r['network']} {r['input']} i{r['interval']} {r['view']}", r["acc"], lf,
                                   None, None, self.bootstrap, network=r["network"], input=r["input"],
                                   interval=r["interval"], view=r["view"]))
        return compare_table(rows), logits

    # -- Table 4 ------------------------------------------------------------------------------
    def table4(self):
        """The paper's recipes on test, and a greedy ensemble chosen on validation."""
        from .ensemble import combine, greedy_search
        from .report.paper import paper_rows, recipe_members
        from .report.tables import compare_table, result_row
        _, test = self.table3("test")
        _, val = self.table3("validation")
        rows, ens = [], {}
        for r in paper_rows("table4"):
            members = recipe_members(r)
            lf = combine([test[i] for i, _ in members], [w for _, w in members], [str(i) for i, _ in members])
            ens[r["id"]] = lf
            rows.append(result_row(r["id"], r["method"], r["acc"], lf, None, None, self.bootstrap,
                                   members=" ".join(f"{i}x{w:g}" if w != 1 else str(i) for i, w in members)))
        search = greedy_search({str(k): v for k, v in val.items()}, {str(k): v for k, v in test.items()})
        return compare_table(rows), ens, search, test

    # -- helpers for reports -------------------------------------------------------------------
    def histories(self, runs: dict) -> dict[str, list[dict]]:
        return {k: read_metrics(v) for k, v in runs.items()}

    def banner(self) -> str:
        from .report.tables import SYNTHETIC_BANNER
        if self.synthetic:
            return SYNTHETIC_BANNER.format(profile=self.profile)
        return f"Profile {self.profile}: real data ({self.dataset.get('kind')}) under {self.dataset.get('root')}."
