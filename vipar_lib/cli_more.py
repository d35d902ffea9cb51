"""Model, engine and report commands of ``vipar`` (registered into :mod:`vipar_lib.cli`)."""
from __future__ import annotations

import json
from pathlib import Path

from .cli import command, register


def _parse_opts(pairs):
    """``key=value`` pairs; values parsed as YAML scalars/lists (``depths=[1,1,1,1]``)."""
    import yaml
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise SystemExit(f"option {p!r} must be key=value")
        k, v = p.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


@command("models", "list the registered models")
def cmd_models(a):
    from .models import list_models, model_spec
    rows = [{"name": n, "family": model_spec(n).family, "frames": model_spec(n).default_frames,
             "options": sorted(model_spec(n).options), "description": model_spec(n).description}
            for n in list_models()]
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'model':15} {'family':10} {'T':>3}  description")
        for r in rows:
            print(f"{r['name']:15} {r['family']:10} {r['frames']:3d}  {r['description']}")
    return 0


register("models", lambda p: p.add_argument("--json", action="store_true"))


@command("model-info", "parameters, GFLOPs and input shape of a model")
def cmd_model_info(a):
    from .models.info import model_info
    info = model_info(a.name, a.num_classes, a.frames, a.size, **_parse_opts(a.option))
    if a.json:
        print(json.dumps(info, indent=1))
    else:
        print(f"{info['name']}: {info['params']:,} parameters, {info['gflops']:.2f} GFLOPs "
              f"(torch.utils.flop_counter, 2 per multiply-add) at input {tuple(info['input_shape'])}")
        print("options: " + ", ".join(f"{k}={v}" for k, v in info["options"].items()))
    return 0


def _add_model_info(p):
    p.add_argument("name")
    p.add_argument("--num-classes", type=int, default=101)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("-o", "--option", action="append", help="model option key=value (repeatable)")
    p.add_argument("--json", action="store_true")


register("model-info", _add_model_info)
