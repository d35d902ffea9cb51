"""Model commands: ``vipar models``, ``vipar model-info``."""
from __future__ import annotations

import json

from .registry import JSON, arg, command


def parse_pairs(pairs, what: str = "option") -> dict:
    """``key=value`` pairs; values parsed as YAML scalars/lists (``depths=[1,1,1,1]``); dotted keys nest."""
    import yaml

    from ..typed import ConfigError, merge
    out: dict = {}
    for p in pairs or []:
        if "=" not in p:
            raise ConfigError(f"{what} {p!r} must be key=value")
        k, v = p.split("=", 1)
        node: dict = {}
        cur = node
        *parents, last = k.split(".")
        for part in parents:
            cur = cur.setdefault(part, {})
        cur[last] = yaml.safe_load(v)
        out = merge(out, node)
    return out


@command("models", "list the registered models", JSON)
def models(a):
    from ..models import list_models, model_spec
    rows = [{"name": n, "family": model_spec(n).family, "frames": model_spec(n).default_frames,
             "options": sorted(model_spec(n).options), "description": model_spec(n).description}
            for n in list_models()]
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'model':22} {'family':10} {'T':>3}  description")
    for r in rows:
        print(f"{r['name']:22} {r['family']:10} {r['frames']:3d}  {r['description']}")
    return 0


@command("model-info", "parameters, GFLOPs (2 x multiply-adds) and input shape of a model",
         arg("name", help="a registered model (see `vipar models`)"),
         arg("--num-classes", type=int, default=101, help="classifier outputs (default 101)"),
         arg("--frames", type=int, default=None, help="clip length (default: the model's own)"),
         arg("--size", type=int, default=112, help="crop size in pixels (default 112)"),
         arg("-o", "--option", action="append", help="model option key=value (repeatable), e.g. -o conv=tri"), JSON)
def model_info(a):
    from ..models.info import model_info as info_of
    info = info_of(a.name, a.num_classes, a.frames, a.size, **parse_pairs(a.option))
    if a.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"{info['name']}: {info['params']:,} parameters, {info['gflops']:.2f} GFLOPs "
          f"(torch.utils.flop_counter, 2 per multiply-add) at input {tuple(info['input_shape'])}")
    print("options: " + ", ".join(f"{k}={v}" for k, v in info["options"].items()))
    return 0
