"""The planner: the paper's rows + a :class:`StudyConfig` -> run configs and evaluation requests. Pure.

Nothing here reads data or trains; a plan is computed from the params file and the paper's
transcription alone, so it can be printed (``vipar plan``), tested without data, and handed to
the executor. Run directories follow from the configs (``runs/<name>-<hash>``), so the reports
find every logits file from the plan too.

Protocols (III.B), each a reading of the paper::

    Table 1   base SlowFast-R50 (RGB) ──warm start──► every Table-1 row (base configuration included)
    Table 2   base SlowFast-R50/R101 × RGB/Diff ──► the final structure (T1.7's options), one per pair
              (R50-RGB *is* T1.7: same config, same run)
              TSM single-frame 2D ResNet (shift off) ──► TSM 16 frames, with and without shift
    Table 3   the Table-2 R50 runs (SlowFast RGB, SlowFast Diff, TSM with shift) under each view and
              interval; interval 2 reads frames 2 apart from the model trained on random interval 1/2
    Table 4   sums of Table-3 logits (test), and a greedy ensemble chosen on validation

* "After the accuracy of SlowFast reaches 50%, we saved it as a pre-trained model. Based on this
  pre-trained model we do more research, such as add ... modules": a base trains for
  ``epochs.base``; each row fine-tunes from it for ``epochs.finetune`` (weights of added modules
  start fresh; the run's ``warm_start.json`` lists them).
* "We first used single-frame as input to train TSM ... we fine-tune TSM by using 16-frames": the
  single-frame run is shared by the shift and no-shift rows, since a shift does nothing on one frame.

Two readings (``StudyConfig.reading``) build the same protocol from different models:

* ``text`` — the paper's words: ``slowfast_r50/_r101`` with each Table-1 row's ``options``
  (``paper_tables.yaml``); Table 2's final structure is T1.7's; ``tsm_r50/_r101``.
* ``release`` — the authors' code (xdw1995/123): ``slowfast_release_r50/_r101`` with each row's
  ``release`` options; Table 2's final structure is the released network (``RELEASE_FINAL``);
  TSM with the release's options (``TSM_RELEASE``: partial BN, its head, its frame layout).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..engine.config import RunConfig, config_from_dict
from ..engine.runs import run_dir
from ..logits import logits_name
from ..models.slowfast_release import RELEASE_FINAL
from ..models.tsm import TSM_RELEASE
from ..paper import TABLES, paper_rows, recipe_members, table_meta
from ..paths import resolve
from ..typed import merge, to_dict
from .config import StudyConfig

__all__ = ["PlannedRun", "EvalRequest", "PlannedRow", "Plan", "plan_study", "split_dir", "video_root", "dataset_id",
           "COST_FILE",
           "read_cost"]

COST_FILE = "cost.json"      # in a run directory: parameters and GFLOPs per clip length (the executor writes it)


@dataclass(frozen=True)
class PlannedRun:
    """One run of the store: its full config and the runs it warm-starts from."""

    name: str
    config: RunConfig
    needs: tuple[str, ...] = ()
    role: str = "row"             # base | single-frame | row

    @property
    def dir(self) -> Path:
        return resolve(run_dir(self.config))

    @property
    def family(self) -> str:
        return _family(self.config.model.name)


@dataclass(frozen=True)
class EvalRequest:
    """One logits file: a run evaluated under one view, interval and split."""

    run: str
    view: str
    interval: int
    split: str
    clips: int

    @property
    def file_name(self) -> str:
        return logits_name(self.split, self.view, self.interval, self.clips)


@dataclass(frozen=True)
class PlannedRow:
    """A row of one of the paper's tables: what the paper reports and what vipar computes for it."""

    table: str
    id: str | int
    method: str
    paper: float | None
    run: str = ""                          # Tables 1-3: the run evaluated
    eval: EvalRequest | None = None        # Tables 1-3: its test logits
    members: tuple[tuple[int, float], ...] = ()   # Table 4: (Table-3 row id, weight)
    info: dict = field(default_factory=dict, hash=False, compare=False)   # input, network, view, ...


@dataclass
class Plan:
    study: StudyConfig
    runs: dict[str, PlannedRun]           # dependency order: a run comes after the runs it needs
    rows: dict[str, list[PlannedRow]]     # table1 .. table4

    def row(self, table: str, rid) -> PlannedRow:
        for r in self.rows[table]:
            if r.id == rid:
                return r
        raise KeyError(f"{table} has no row {rid!r}; rows: {[r.id for r in self.rows[table]]}")

    @property
    def has_validation(self) -> bool:
        """False when the study trains on validation too (``dataset.train_list``): nothing is chosen on it."""
        return self.study.dataset.train_list == "challenge"

    def requests(self, tables=TABLES) -> list[EvalRequest]:
        """Every logits file the given tables read (Table 4 reads Table 3's on test, and on validation when
        there is one, for the ensemble chosen on it)."""
        out: list[EvalRequest] = []
        for t in tables:
            if t == "table4":
                for r in self.rows["table3"]:
                    out += [r.eval, _on(r.eval, "validation")] if self.has_validation else [r.eval]
            else:
                out += [r.eval for r in self.rows[t]]
        return list(dict.fromkeys(out))

    def runs_for(self, tables=TABLES) -> list[PlannedRun]:
        """The runs the given tables need, with the runs those warm-start from, in dependency order."""
        want: set[str] = set()
        stack = [q.run for q in self.requests(tables)]
        while stack:
            n = stack.pop()
            if n not in want:
                want.add(n)
                stack += list(self.runs[n].needs)
        return [r for n, r in self.runs.items() if n in want]

    def logits_path(self, req: EvalRequest) -> Path:
        return self.runs[req.run].dir / "logits" / req.file_name


def read_cost(run_dir: Path) -> dict:
    """A run's ``cost.json`` (``{}`` until the executor wrote it)."""
    import json
    p = Path(run_dir) / COST_FILE
    return json.loads(p.read_text()) if p.is_file() else {}


def _on(req: EvalRequest, split: str) -> EvalRequest:
    return EvalRequest(req.run, req.view, req.interval, split, req.clips)


def _family(model: str) -> str:
    return "tsm" if model.startswith("tsm") else "slowfast" if model.startswith("slowfast") else "other"


def split_dir(study: StudyConfig) -> Path:
    """Where the executor writes the study's split lists (``<runs_dir>/split``)."""
    return study.runs_path / "split"


def dataset_id(study: StudyConfig) -> str:
    """What the study's videos and split are: part of every run's hash (``data.dataset_id``)."""
    from ..data.synth import VERSION
    ds = study.dataset
    split = "group-disjoint" if ds.group_disjoint else "challenge split"
    if ds.train_list != "challenge":
        split += f", trained on {ds.train_list}"
    if ds.kind == "synthetic":
        ident = (f"synthetic v{VERSION}: {ds.classes} classes x {ds.groups} groups x {ds.clips} clips, seed {ds.seed}, "
                 f"{ds.size[0]}x{ds.size[1]}; {split}")
    else:
        ident = f"{ds.kind}; {split}" if ds.kind == "ucf101" else ds.kind
    return ident + _prepared_id(study)


def _prepared_id(study: StudyConfig) -> str:
    """``dataset.prepared``: which copy (its short side and the transcoder's version, from its manifest)."""
    if not study.dataset.prepared:
        return ""
    from ..data.prepare import PREPARE_VERSION, prepared_info
    info = prepared_info(resolve(study.dataset.prepared))
    side = info["short_side"] if info else "?"
    version = info.get("version", PREPARE_VERSION) if info else PREPARE_VERSION
    return f"; prepared copy (vipar prepare-videos v{version}, short side {side})"


def video_root(study: StudyConfig) -> Path:
    """The folder the split's video paths are relative to (``dataset.prepared`` when set)."""
    if study.dataset.prepared:
        return resolve(study.dataset.prepared)
    root = resolve(study.dataset.root)
    return root / "UCF-101" if study.dataset.kind == "synthetic" else root


class _Planner:
    def __init__(self, study: StudyConfig):
        self.s = study
        self.runs: dict[str, PlannedRun] = {}

    def config(self, name: str, model: str, options: dict, input_type: str, clip_len: int | None = None,
               epochs: int | None = None, init_from: str = "") -> RunConfig:
        s = self.s
        t = clip_len or getattr(s.frames, _family(model), s.frames.slowfast)
        opts = {**s.models.get(model, {}), **options}
        over = s.by_model.get(f"{_family(model)}/{input_type}", {})
        listed = {} if s.dataset.train_list == "challenge" else {"val_split": "",
                                                                 "allow_repeats": s.dataset.train_list == "release"}
        if model.startswith("slowfast") and "num_frames" not in opts:
            opts["num_frames"] = t
        d = {"name": name, "runs_dir": str(s.runs_path),
             "data": merge(merge(to_dict(s.data), over.get("data", {})),
                           {"split_dir": str(split_dir(s)), "video_root": str(video_root(s)), "input_type": input_type,
                            "clip_len": t, "dataset_id": dataset_id(s), **listed}),
             "model": {"name": model, "options": opts},
             "train": merge(merge(to_dict(s.train), over.get("train", {})),
                            {"epochs": epochs or s.train.epochs, "init_from": init_from}),
             "eval": to_dict(s.eval)}
        return config_from_dict(d)

    def add(self, cfg: RunConfig, role: str, needs: tuple[str, ...] = ()) -> str:
        old = self.runs.get(cfg.name)
        if old is not None:
            if old.config != cfg:
                raise ValueError(f"the plan builds two different configs named {cfg.name!r}")
            return cfg.name
        self.runs[cfg.name] = PlannedRun(cfg.name, cfg, needs, role)
        return cfg.name

    def base(self, model: str, input_type: str) -> str:
        cfg = self.config(f"base_{model}_{input_type}", model, {}, input_type, epochs=self.s.epochs.base)
        return self.add(cfg, "base")

    def finetune(self, name: str, model: str, options: dict, input_type: str, base: str) -> str:
        cfg = self.config(name, model, options, input_type, epochs=self.s.epochs.finetune,
                          init_from=str(self.runs[base].dir))
        return self.add(cfg, "row", (base,))

    def tsm_single(self, model: str, input_type: str) -> str:
        cfg = self.config(f"tsm_single_{model}", model, _tsm_options(self.s, False), input_type, clip_len=1,
                          epochs=self.s.epochs.tsm_single)
        return self.add(cfg, "single-frame")


def _slowfast(study: StudyConfig, depth) -> str:
    return f"slowfast_release_r{depth}" if study.reading == "release" else f"slowfast_r{depth}"


def _tsm_options(study: StudyConfig, shift: bool) -> dict:
    return {**(TSM_RELEASE if study.reading == "release" else {}), "shift": shift}


def _table_eval(run: str, study: StudyConfig, view="center", interval=1, split="test") -> EvalRequest:
    return EvalRequest(run, view, interval, split, study.eval.num_clips)


def plan_study(study: StudyConfig) -> Plan:
    """Every run and evaluation of the four tables (see the module docstring for the protocols)."""
    p = _Planner(study)
    rows: dict[str, list[PlannedRow]] = {}

    release = study.reading == "release"
    key = "release" if release else "options"
    r50 = _slowfast(study, 50)
    base = p.base(r50, "rgb")
    rows["table1"] = []
    for r in paper_rows("table1"):
        run = p.finetune(f"t1_{r['id'].replace('.', '_')}", r50, r[key], "rgb", base)
        note = r.get("release_note" if release else "reading", "")
        rows["table1"].append(PlannedRow("table1", r["id"], r["method"], r["acc"], run, _table_eval(run, study),
                                         info={"options": r[key], "reading": note}))

    final = RELEASE_FINAL if release else next(r for r in paper_rows("table1") if r["id"] == "T1.7")["options"]
    rows["table2"] = []
    for r in paper_rows("table2"):
        if r["family"] == "slowfast":
            model = _slowfast(study, r["depth"])
            b = p.base(model, r["input"])
            same_as_t17 = (model, r["input"]) == (r50, "rgb") and not release
            name = "t1_T1_7" if same_as_t17 else f"t2_{model}_{r['input']}"
            run = p.finetune(name, model, final, r["input"], b)
        else:
            model = f"tsm_r{r['depth']}"
            single = p.tsm_single(model, r["input"])
            run = p.finetune(f"t2_{model}_{'shift' if r['shift'] else 'noshift'}", model,
                             _tsm_options(study, r["shift"]), r["input"], single)
        rows["table2"].append(PlannedRow("table2", r["id"], r["method"], r["acc"], run, _table_eval(run, study),
                                         info={"input": r["input"], "family": r["family"], "depth": r["depth"]}))

    t2 = {r.id: r for r in rows["table2"]}
    models = table_meta("table3")["models"]
    rows["table3"] = []
    for r in paper_rows("table3"):
        run = t2[models[f"{r['network']}/{r['input']}"]].run
        rows["table3"].append(PlannedRow(
            "table3", r["id"], f"{r['network']} {r['input']} i{r['interval']} {r['view']}", r["acc"], run,
            _table_eval(run, study, r["view"], r["interval"]),
            info={"network": r["network"], "input": r["input"], "interval": r["interval"], "view": r["view"]}))

    rows["table4"] = [PlannedRow("table4", r["id"], r["method"], r["acc"], members=tuple(recipe_members(r)))
                      for r in paper_rows("table4")]
    return Plan(study, p.runs, rows)
