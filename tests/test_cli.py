"""The command line: one registry, help on every argument, suggestions, one-line errors."""
import json

import pytest

from vipar_lib import __version__
from vipar_lib.cli import build_parser, main
from vipar_lib.cli.registry import COMMANDS


def _subparsers():
    ap = build_parser()
    (sub,) = [a for a in ap._actions if a.dest == "cmd"]
    return sub.choices


def test_every_command_and_argument_has_help():
    subs = _subparsers()
    assert set(subs) == set(COMMANDS)
    for name, p in subs.items():
        assert COMMANDS[name].help, name
        for action in p._actions:
            if action.dest == "help":
                continue
            assert action.help and len(action.help) > 8, f"vipar {name} {action.option_strings or action.dest}"


def test_version_and_suggestions(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"vipar {__version__}"
    assert main(["trian", "x.yaml"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'trian'; did you mean 'train'?" in err and len(err.strip().splitlines()) == 1


def test_user_errors_are_one_line(tmp_path, capsys):
    p = tmp_path / "run.yaml"
    p.write_text("name: x\ntrain: {lrr: 0.1}\n")
    assert main(["train", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vipar train: error: ") and "train.lrr" in err and len(err.splitlines()) == 1
    assert main(["plan", "--profile", "smoke", "--set", "epochs.bse=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "epochs.bse" in err and "allowed in epochs" in err and len(err.splitlines()) == 1
    assert main(["ensemble", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err


def test_plan_prints_the_cost_plan(capsys):
    assert main(["plan", "--profile", "ucf101", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    seeds = sorted({r["seed"] for r in out["runs"]})
    assert out["profile"] == "ucf101" and seeds == list(range(8))          # params/ucf101.yaml: seeds: 8
    assert len(out["runs"]) == 21 * 8 and out["evaluations"] == 56 * 8      # 21 trained rows, 56 logits files a seed
    assert sum(r["seed"] == 0 for r in out["runs"]) == 21
    assert out["gpu_hours"]["all"] > 0 and "assumed" in out["throughput_source"]
