"""Model registry: small named variant functions with declared, validated options (as timm does).

``create_model(name, num_classes=101, **options)`` checks every option against the variant's
declaration and raises :class:`ModelOptionError` naming the option and the allowed values.
The registry knows nothing of the variants: each variant module registers its functions with
:func:`register_model`, and ``vipar_lib.models`` imports the variant modules (as timm does).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

__all__ = ["ModelOptionError", "Option", "register_model", "create_model", "list_models", "model_options",
           "model_spec"]


class ModelOptionError(ValueError):
    """An unknown model, option or option value."""


@dataclass(frozen=True)
class Option:
    default: Any
    choices: tuple | None = None     # allowed values, or None
    kind: type | tuple | None = None  # allowed type(s) when not a choice
    help: str = ""

    def check(self, model: str, name: str, value):
        if self.choices is not None:
            if value not in self.choices:
                raise ModelOptionError(f"{model}: option {name}={value!r} not allowed; allowed: {list(self.choices)}")
            return value
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if self.kind is not None:
            if bool in kinds and not int in kinds and not isinstance(value, bool):
                raise ModelOptionError(f"{model}: option {name}={value!r} must be true or false")
            if isinstance(value, list) and tuple in kinds:
                value = tuple(value)
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                names = "/".join(k.__name__ for k in kinds)
                raise ModelOptionError(f"{model}: option {name}={value!r} must be {names}")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ModelOptionError(f"{model}: option {name}={value!r} must be >= 0")
        return value


@dataclass
class ModelSpec:
    name: str
    fn: Callable[..., nn.Module]
    options: dict[str, Option]
    family: str
    default_frames: int
    description: str = ""
    tags: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(family: str, default_frames: int, options: dict[str, Option], description: str = ""):
    def deco(fn):
        _REGISTRY[fn.__name__] = ModelSpec(fn.__name__, fn, options, family, default_frames,
                                           description or (fn.__doc__ or "").strip().splitlines()[0])
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
    return out


def create_model(name: str, num_classes: int = 101, **options) -> nn.Module:
    """Build a registered model with validated options."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ModelOptionError(f"num_classes={num_classes!r} must be a positive integer")
    opts = resolve_options(name, options)
    model = model_spec(name).fn(num_classes=num_classes, **opts)
    model.vipar_name, model.vipar_options = name, opts
    return model
