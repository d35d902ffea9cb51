"""The planner: the paper's rows + a :class:`StudyConfig` -> run configs and evaluation requests. Pure.

Nothing here reads data or trains; a plan is computed from the params file and the paper's
transcription alone, so it can be printed (``vipar plan``), tested without data, and handed to
the executor. Run directories follow from the configs (``runs/<name>-<hash>``), so the reports
find every logits file from the plan too. (One exception to "reads no data": real data's identity,
:func:`dataset_id`, is the fingerprint of its lists and videos, hashed once and cached; without the
data the plan still works.)

Protocols (III.B), each a reading of the paper::

    Table 1   base SlowFast-R50 (RGB) ──warm start──► every Table-1 row (base configuration included)
    Table 2   base SlowFast-R50/R101 × RGB/Diff ──► the final structure (T1.7's options), one per pair
              (R50-RGB *is* T1.7: same config, same run)
              TSM single-frame 2D ResNet (shift off) ──► TSM 16 frames, with and without shift
    Table 3   the Table-2 R50 runs (SlowFast RGB, SlowFast Diff, TSM with shift) under each view and
              interval; interval 2 reads frames 2 apart from the model trained on random interval 1/2
    Table 4   sums of Table-3 logits (test), and a greedy ensemble chosen on validation

Seeds are an axis of the plan (``StudyConfig.seeds``): every trained row has one run per seed
``train.seed + i``, named ``<row>_s<seed>`` (seed 0 keeps the name and hash a run had before seeds),
and each fine-tune of seed *i* warm-starts from the base (or TSM single-frame run) of seed *i*::

    base (seed 0) ──► T1.1 … T1.8 (seed 0)      base_s1 ──► T1.1_s1 … T1.8_s1      …
    Table 3 / Table 4 read the Table-2 runs of every seed, and are computed seed by seed

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
from ..paths import portable, resolve
from ..typed import merge, to_dict
from .config import StudyConfig

__all__ = ["PlannedRun", "EvalRequest", "PlannedRow", "Plan", "plan_study", "split_dir", "video_root", "dataset_id",
           "seed_suffix", "lists_dir", "source_lists", "release_list", "COST_FILE", "read_cost"]

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
    """A row of one of the paper's tables: what the paper reports and what vipar computes for it.

    Tables 1-3: one run and one test logits file per seed (``runs[i]``, ``evals[i]`` trained with
    ``seeds[i]``); Table 4: its members (Table-3 rows), summed seed by seed.
    """

    table: str
    id: str | int
    method: str
    paper: float | None
    runs: tuple[str, ...] = ()                 # Tables 1-3: the run of each seed
    evals: tuple[EvalRequest, ...] = ()        # Tables 1-3: its test logits, per seed
    seeds: tuple[int, ...] = (0,)              # train.seed of each run (Table 4: of its members)
    members: tuple[tuple[int, float], ...] = ()   # Table 4: (Table-3 row id, weight)
    info: dict = field(default_factory=dict, hash=False, compare=False)   # input, network, view, ...

    @property
    def run(self) -> str:
        """The first seed's run ('' for Table 4)."""
        return self.runs[0] if self.runs else ""

    @property
    def eval(self) -> EvalRequest | None:
        """The first seed's test logits (None for Table 4)."""
        return self.evals[0] if self.evals else None


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
                    out += [q for e in r.evals for q in ((e, _on(e, "validation")) if self.has_validation else (e,))]
            else:
                out += [e for r in self.rows[t] for e in r.evals]
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


def lists_dir(study: StudyConfig) -> Path:
    """The folder of the study's source lists: ``ucfTrainTestlist/`` (synthetic, ucf101) or ``annotations/``."""
    ds, root = study.dataset, resolve(study.dataset.root)
    if ds.kind == "synthetic":
        return root / "ucfTrainTestlist"
    if ds.kind == "ucf101":
        return resolve(ds.lists) if ds.lists else root.parent / "ucfTrainTestlist"
    return root / "annotations"


def release_list(release_dir: Path) -> Path:
    """The release's training list: ``train22.txt`` in a clone, or ``lists/train22.txt`` in a copy of its data."""
    for p in (release_dir / "train22.txt", release_dir / "lists" / "train22.txt"):
        if p.is_file():
            return p
    raise FileNotFoundError(f"{release_dir}: no train22.txt (a clone of xdw1995/123 has it at its top level; "
                            "`vipar released fetch` clones it)")


def source_lists(study: StudyConfig) -> list[Path]:
    """The files the study's split is made from (the release's train22.txt included when it is the training list)."""
    d = lists_dir(study)
    names = (("mod-ucf101-classInd.txt", "mod-ucf101-train.txt", "mod-ucf101-validation.txt", "mod-ucf101-test.txt")
             if study.dataset.kind == "challenge" else ("classInd.txt", "trainlist01.txt", "testlist01.txt"))
    files = [d / n for n in names]
    if study.dataset.train_list == "release":
        try:
            files.append(release_list(resolve(study.release.dir)))
        except FileNotFoundError:
            files.append(resolve(study.release.dir) / "train22.txt")          # enters as missing
    return files


def dataset_id(study: StudyConfig, progress: bool = True) -> str:
    """What the study's videos and split are: part of every run's hash (``data.dataset_id``).

    Synthetic data is what the generator makes from its options and renderer version, and
    :func:`vipar_lib.data.synth.prepare` keeps the files on disk that (it regenerates on a content
    mismatch), so the options are its identity. Real data (``ucf101``, ``challenge``) is named by
    its kind, root and lists and by the sha1 fingerprint of the lists and of every video they name
    (:mod:`vipar_lib.data.identity`; hashed once, cached in the run store's ``split/``): other videos
    or lists under the same settings give other runs (#21).
    """
    from ..data.synth import VERSION
    ds = study.dataset
    split = "group-disjoint" if ds.group_disjoint else "challenge split"
    if ds.train_list != "challenge":
        split += f", trained on {ds.train_list}"
    if ds.kind == "synthetic":
        ident = (f"synthetic v{VERSION}: {ds.classes} classes x {ds.groups} groups x {ds.clips} clips, seed {ds.seed}, "
                 f"{ds.size[0]}x{ds.size[1]}; {split}")
    else:
        ident = (f"{ds.kind} at {portable(resolve(ds.root))}, lists {portable(lists_dir(study))}; {split}; "
                 f"content sha1 {_real_fingerprint(study, progress)}")
    return ident + _prepared_id(study)


def _real_fingerprint(study: StudyConfig, progress: bool) -> str:
    """The fingerprint of a real dataset's source lists and videos ("no lists" when they are not there yet)."""
    from ..data import splits as S
    from ..data.identity import CACHE_NAME, fingerprint
    lists = source_lists(study)
    if not all(p.is_file() for p in lists[:3]):
        return fingerprint(lists, video_root(study), [])
    sp = (S.read_challenge_layout(resolve(study.dataset.root)) if study.dataset.kind == "challenge"
          else S.vipriors_split(lists_dir(study)))
    videos = [e.path for entries in sp.entries.values() for e in entries]
    return fingerprint(lists, video_root(study), videos, split_dir(study) / CACHE_NAME, progress)


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


def seed_suffix(seed: int) -> str:
    """A run's name for ``train.seed = seed``: seed 0 keeps the name (and hash) a run had before seeds."""
    return f"_s{seed}" if seed else ""


class _Planner:
    def __init__(self, study: StudyConfig):
        self.s = study
        self.runs: dict[str, PlannedRun] = {}
        self.dataset_id = dataset_id(study)          # once per plan: real data is fingerprinted

    def config(self, name: str, model: str, options: dict, input_type: str, seed: int, clip_len: int | None = None,
               epochs: int | None = None, init_from: str = "") -> RunConfig:
        s = self.s
        t = clip_len or getattr(s.frames, _family(model), s.frames.slowfast)
        opts = {**s.models.get(model, {}), **options}
        over = s.by_model.get(f"{_family(model)}/{input_type}", {})
        listed = {} if s.dataset.train_list == "challenge" else {"val_split": "",
                                                                 "allow_repeats": s.dataset.train_list == "release"}
        if model.startswith("slowfast") and "num_frames" not in opts:
            opts["num_frames"] = t
        d = {"name": name + seed_suffix(seed), "runs_dir": str(s.runs_path),
             "data": merge(merge(to_dict(s.data), over.get("data", {})),
                           {"split_dir": str(split_dir(s)), "video_root": str(video_root(s)), "input_type": input_type,
                            "clip_len": t, "dataset_id": self.dataset_id, **listed}),
             "model": {"name": model, "options": opts},
             "train": merge(merge(to_dict(s.train), over.get("train", {})),
                            {"epochs": epochs or s.train.epochs, "init_from": init_from, "seed": seed}),
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

    def base(self, model: str, input_type: str, seed: int) -> str:
        cfg = self.config(f"base_{model}_{input_type}", model, {}, input_type, seed, epochs=self.s.epochs.base)
        return self.add(cfg, "base")

    def finetune(self, name: str, model: str, options: dict, input_type: str, base: str, seed: int) -> str:
        cfg = self.config(name, model, options, input_type, seed, epochs=self.s.epochs.finetune,
                          init_from=str(self.runs[base].dir))
        return self.add(cfg, "row", (base,))

    def tsm_single(self, model: str, input_type: str, seed: int) -> str:
        cfg = self.config(f"tsm_single_{model}", model, _tsm_options(self.s, False), input_type, seed, clip_len=1,
                          epochs=self.s.epochs.tsm_single)
        return self.add(cfg, "single-frame")

    def row(self, table: str, r: dict, method: str, runs: list[str], seeds, view="center", interval=1,
            info: dict | None = None) -> PlannedRow:
        evals = tuple(_table_eval(run, self.s, view, interval) for run in runs)
        return PlannedRow(table, r["id"], method, r["acc"], tuple(runs), evals, tuple(seeds), info=info or {})


def _slowfast(study: StudyConfig, depth) -> str:
    return f"slowfast_release_r{depth}" if study.reading == "release" else f"slowfast_r{depth}"


def _tsm_options(study: StudyConfig, shift: bool) -> dict:
    return {**(TSM_RELEASE if study.reading == "release" else {}), "shift": shift}


def _table_eval(run: str, study: StudyConfig, view="center", interval=1, split="test") -> EvalRequest:
    return EvalRequest(run, view, interval, split, study.eval.num_clips)


def _table1(p: _Planner) -> list[PlannedRow]:
    """Every Table-1 row fine-tunes the SlowFast-R50 RGB base of its own seed."""
    release = p.s.reading == "release"
    key = "release" if release else "options"
    r50, seeds = _slowfast(p.s, 50), p.s.seed_list("table1")
    rows = []
    for r in paper_rows("table1"):
        runs = [p.finetune(f"t1_{r['id'].replace('.', '_')}", r50, r[key], "rgb", p.base(r50, "rgb", sd), sd)
                for sd in seeds]
        note = r.get("release_note" if release else "reading", "")
        rows.append(p.row("table1", r, r["method"], runs, seeds, info={"options": r[key], "reading": note}))
    return rows


def _table2_run(p: _Planner, r: dict, seed: int) -> str:
    """The run of one Table-2 row and seed: a SlowFast fine-tune of its base, or TSM from its single-frame stage."""
    release = p.s.reading == "release"
    if r["family"] == "slowfast":
        final = RELEASE_FINAL if release else next(x for x in paper_rows("table1") if x["id"] == "T1.7")["options"]
        model = _slowfast(p.s, r["depth"])
        same_as_t17 = (model, r["input"]) == (_slowfast(p.s, 50), "rgb") and not release
        name = "t1_T1_7" if same_as_t17 else f"t2_{model}_{r['input']}"
        return p.finetune(name, model, final, r["input"], p.base(model, r["input"], seed), seed)
    model = f"tsm_r{r['depth']}"
    single = p.tsm_single(model, r["input"], seed)
    return p.finetune(f"t2_{model}_{'shift' if r['shift'] else 'noshift'}", model, _tsm_options(p.s, r["shift"]),
                      r["input"], single, seed)


def _table2(p: _Planner) -> list[PlannedRow]:
    seeds = p.s.seed_list("table2")
    return [p.row("table2", r, r["method"], [_table2_run(p, r, sd) for sd in seeds], seeds,
                  info={"input": r["input"], "family": r["family"], "depth": r["depth"]})
            for r in paper_rows("table2")]


def _table3(p: _Planner, table2: list[PlannedRow]) -> list[PlannedRow]:
    """Each Table-3 row evaluates one Table-2 row's runs (every seed) under a view and interval."""
    t2 = {r.id: r for r in table2}
    models = table_meta("table3")["models"]
    rows = []
    for r in paper_rows("table3"):
        src = t2[models[f"{r['network']}/{r['input']}"]]
        rows.append(p.row("table3", r, f"{r['network']} {r['input']} i{r['interval']} {r['view']}", list(src.runs),
                          src.seeds, r["view"], r["interval"],
                          info={"network": r["network"], "input": r["input"], "interval": r["interval"],
                                "view": r["view"]}))
    return rows


def plan_study(study: StudyConfig) -> Plan:
    """Every run and evaluation of the four tables, one run per (row, seed) (module docstring: the protocols)."""
    p = _Planner(study)
    rows = {"table1": _table1(p), "table2": _table2(p)}
    rows["table3"] = _table3(p, rows["table2"])
    seeds = study.seed_list("table2")
    rows["table4"] = [PlannedRow("table4", r["id"], r["method"], r["acc"], seeds=seeds,
                                 members=tuple(recipe_members(r))) for r in paper_rows("table4")]
    return Plan(study, p.runs, rows)
