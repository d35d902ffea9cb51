"""Typed configs: dataclasses whose fields declare their allowed values, validated once at the edge.

A config section is a dataclass; a field that needs more than its type says declares it with
:func:`option`::

    @dataclass
    class TrainConfig:
        lr: float = option(0.001, gt=0, help="SGD learning rate")
        device: str = option("auto", choices=("auto", "cpu", "cuda"))

:func:`from_dict` builds the dataclass from a plain mapping (a parsed YAML file, papermill
parameters) and raises :class:`ConfigError` naming the dotted key and what is allowed, for
unknown keys, wrong types, values outside ``choices`` and numbers outside their range (NaN and
infinities are never allowed). Nothing below the edge reads YAML or re-checks values.

Types understood: ``bool``, ``int``, ``float`` (ints accepted), ``str``, ``list[T]``,
``tuple[T, ...]``, ``tuple[T1, T2]``, ``dict``, ``T | None`` and nested dataclasses.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "option", "from_dict", "to_dict", "check_value", "field_doc", "merge"]


class ConfigError(ValueError):
    """A params file or option is invalid; the message names the key and the allowed values."""


def option(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, choices=None,
           ge=None, gt=None, le=None, lt=None, help: str = "") -> Any:
    """A dataclass field with allowed ``choices`` or a numeric range (``ge``/``gt``/``le``/``lt``)."""
    meta = {k: v for k, v in dict(choices=tuple(choices) if choices is not None else None, ge=ge, gt=gt, le=le,
                                  lt=lt, help=help).items() if v not in (None, "")}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _range_text(meta) -> str:
    parts = [f"{op} {meta[k]}" for k, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")) if k in meta]
    return " and ".join(parts)


def check_value(key: str, value, meta: dict):
    """Check ``value`` against a field's ``choices`` and range; return it."""
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{key}={value!r}; allowed: {list(meta['choices'])}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bad = (("ge" in meta and not value >= meta["ge"]) or ("gt" in meta and not value > meta["gt"])
               or ("le" in meta and not value <= meta["le"]) or ("lt" in meta and not value < meta["lt"]))
        if bad:
            raise ConfigError(f"{key}={value!r} must be {_range_text(meta)}")
    return value


def _coerce(value, tp, key, meta=None):
    meta = meta or {}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return _coerce(value, a, key, meta)
            except ConfigError as e:
                errors.append(str(e))
                if type(value) is (typing.get_origin(a) or a):     # right type, wrong value: say why
                    raise
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{key}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(tp, value, key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            what = _type_name(args[0]) if args else "values"
            raise ConfigError(f"{key}: expected a list of {what}, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {value!r}")
            items = [_coerce(v, a, f"{key}[{i}]", meta) for i, (v, a) in enumerate(zip(value, args))]
        else:
            inner = args[0] if args else Any
            items = [_coerce(v, inner, f"{key}[{i}]", meta) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return check_value(key, value, meta)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}={value!r} must be a finite number")
        return check_value(key, float(value), meta)
    if tp is str:
        if value is None:
            value = ""
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return check_value(key, str(value), meta)
    return value


def from_dict(cls, d: dict, prefix: str = ""):
    """Build and check dataclass ``cls`` from mapping ``d``; keys are named ``prefix.key`` in errors."""
    if not isinstance(d, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"unknown key(s) {[where + str(k) for k in unknown]}; allowed in "
                          f"{prefix or 'the top level'}: {list(fields)}")
    kw = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        kw[k] = _coerce(v, hints[k], key, dict(fields[k].metadata))
    try:
        return cls(**kw)
    except (ValueError, TypeError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{prefix or cls.__name__}: {e}") from None


def to_dict(obj) -> dict:
    """Plain mapping of a config (tuples as lists, ready for YAML and JSON)."""
    def plain(x):
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return x
    return plain(dataclasses.asdict(obj))


def merge(base: dict, over: dict) -> dict:
    """Deep merge of plain mappings: ``over`` wins; nested mappings merge key by key."""
    out = dict(base)
    for k, v in (over or {}).items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def field_doc(cls, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """``(key, type, default, what is allowed + help)`` for every field, nested sections flattened."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            rows += field_doc(tp, key)
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        allowed = f"one of {list(f.metadata['choices'])}" if "choices" in f.metadata else _range_text(f.metadata)
        rows.append((key, _type_name(tp), default, "; ".join(x for x in (allowed, f.metadata.get("help", "")) if x)))
    return rows
