"""Model registry: small named variant functions with declared, validated options (as timm does).

``create_model(name, num_classes=101, **options)`` checks every option against the variant's
declaration (choices, types, numeric ranges) and the variant's combination check, and raises
:class:`ModelOptionError` naming the option and the allowed values. ``resolve_options`` runs the
same checks without building (config validation uses it).
The registry knows nothing of the variants: each variant module registers its functions with
:func:`register_model`, and ``vipar_lib.models`` imports the variant modules (as timm does).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

__all__ = ["model_fingerprint", "MODEL_CODE_REVISION", "ModelOptionError", "Option", "register_model",
           "create_model", "list_models", "model_options", "model_spec"]


class ModelOptionError(ValueError):
    """An unknown model, option or option value."""


@dataclass(frozen=True)
class Option:
    """A declared model option: its default and what it accepts.

    ``choices`` lists the allowed values; otherwise ``kind`` names the allowed type(s). Numeric
    options carry a range (``ge``/``gt``/``le``/``lt``, any combination); a tuple option (e.g.
    ``depths``) applies the range to each of its items and may fix its ``length``. An ``int``
    given for a ``float`` option is accepted as a float (YAML writes ``dropout: 0``).
    """

    default: Any
    choices: tuple | None = None     # allowed values, or None
    kind: type | tuple | None = None  # allowed type(s) when not a choice
    help: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    length: int | None = None        # for tuple options: the number of items

    def range_text(self) -> str:
        parts = [f"{op} {v}" for op, v in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
                 if v is not None]
        return " and ".join(parts)

    def has_range(self) -> bool:
        return any(v is not None for v in (self.ge, self.gt, self.le, self.lt))

    def _in_range(self, x) -> bool:
        return ((self.ge is None or x >= self.ge) and (self.gt is None or x > self.gt)
                and (self.le is None or x <= self.le) and (self.lt is None or x < self.lt))

    def check(self, model: str, name: str, value):
        if self.choices is not None:
            if value not in self.choices:
                raise ModelOptionError(f"{model}: option {name}={value!r} not allowed; allowed: {list(self.choices)}")
            return value
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if self.kind is None:
            return value
        if bool in kinds and int not in kinds and not isinstance(value, bool):
            raise ModelOptionError(f"{model}: option {name}={value!r} must be true or false")
        if isinstance(value, list) and tuple in kinds:
            value = tuple(value)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = "/".join(k.__name__ for k in kinds)
            raise ModelOptionError(f"{model}: option {name}={value!r} must be {names}")
        if isinstance(value, tuple):
            if self.length is not None and len(value) != self.length:
                raise ModelOptionError(f"{model}: option {name}={list(value)!r} must have {self.length} items")
            bad = [x for x in value if isinstance(x, bool) or not isinstance(x, int) or not self._in_range(x)]
            if bad:
                rng = f" {self.range_text()}" if self.has_range() else ""
                raise ModelOptionError(f"{model}: option {name}={list(value)!r} out of range; "
                                       f"allowed: integers{rng}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not self._in_range(value):
            raise ModelOptionError(f"{model}: option {name}={value!r} out of range; allowed: {self.range_text()}")
        return value

    def is_numeric(self) -> bool:
        """A numeric (or tuple-of-numbers) option, which must declare a range."""
        if self.choices is not None or self.kind is None:
            return False
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        return any(k in (int, float, tuple) for k in kinds) and bool not in kinds


@dataclass
class ModelSpec:
    name: str
    fn: Callable[..., nn.Module]
    options: dict[str, Option]
    family: str
    default_frames: int
    description: str = ""
    tags: dict = field(default_factory=dict)
    check: Callable[[str, dict], None] | None = None   # (model name, resolved options) -> raises ModelOptionError


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(family: str, default_frames: int, options: dict[str, Option], description: str = "",
                   check: Callable[[str, dict], None] | None = None):
    """Register a variant. ``check(name, options)`` refuses option combinations (one ``ModelOptionError``
    naming the option), e.g. an option that would build the same network at the given depth."""
    unranged = sorted(k for k, o in options.items() if o.is_numeric() and not o.has_range())
    if unranged:
        raise TypeError(f"numeric model options need a range (ge/gt/le/lt): {unranged}")

    def deco(fn):
        _REGISTRY[fn.__name__] = ModelSpec(fn.__name__, fn, options, family, default_frames,
                                           description or (fn.__doc__ or "").strip().splitlines()[0], check=check)
        return fn
    return deco


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise ModelOptionError(f"unknown model {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def model_options(name: str) -> dict[str, Option]:
    return dict(model_spec(name).options)


def resolve_options(name: str, options: dict) -> dict:
    spec = model_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ModelOptionError(f"{name}: unknown option(s) {unknown}; allowed: {sorted(spec.options)}")
    out = {k: o.default for k, o in spec.options.items()}
    for k, v in options.items():
        out[k] = spec.options[k].check(name, k, v)
    if spec.check is not None:
        spec.check(name, out)
    return out


def create_model(name: str, num_classes: int = 101, **options) -> nn.Module:
    """Build a registered model with validated options."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ModelOptionError(f"num_classes={num_classes!r} must be a positive integer")
    opts = resolve_options(name, options)
    model = model_spec(name).fn(num_classes=num_classes, **opts)
    model.vipar_name, model.vipar_options = name, opts
    return model


#: Bump when a model's computation changes without changing its modules (a different ``forward``):
#: it is part of every run hash, so runs trained by the older code are not reused.
MODEL_CODE_REVISION = 1

#: Options a model gained after runs of it were trained: ``(model, option) -> the value those runs had``. At
#: that value the option is left out of the fingerprint, so those runs keep their hash (as
#: ``engine/config.py``'s ``_NEW_FIELDS`` do for run-config fields).
NEW_OPTIONS = {("mfnet_3d", "init"): "kaiming"}


@functools.lru_cache(maxsize=256)
def _fingerprint(name: str, options_json: str) -> str:
    import hashlib
    import json

    import torch
    with torch.device("meta"):                      # structure only: no weights are allocated
        model = create_model(name, 2, **json.loads(options_json))
    opts = sorted((k, v) for k, v in model.vipar_options.items()
                  if NEW_OPTIONS.get((name, k), object()) != v)
    text = f"{MODEL_CODE_REVISION}\n{model!r}\n{opts!r}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def model_fingerprint(name: str, options: dict) -> str:
    """A hash of the model's structure (module tree and layer arguments) and :data:`MODEL_CODE_REVISION`."""
    import json
    return _fingerprint(name, json.dumps(options, sort_keys=True, default=list))
