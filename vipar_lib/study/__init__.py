"""The study: params file -> typed :class:`StudyConfig` -> pure :class:`Plan` -> executor (run store).

::

    params/<profile>.yaml ──load_study──► StudyConfig ──plan_study──► Plan (runs, eval requests, table rows)
                                                                         │
                                                       execute(plan, tables) ──► run store (train, evaluate)

This package face holds the config and the plan only: importing it (or ``vipar_lib.report``, which
reads the run store through the same :class:`Plan`) loads no trainer, evaluator or executor. The
executor is imported from its own module, where it is called::

    from vipar_lib.study.execute import execute, prepare_data

``prepare_data`` is also reachable here, lazily (``from vipar_lib.study import prepare_data``
imports the executor at that moment). ``execute`` is not: it shares its name with its module, so
``vipar_lib.study.execute`` is the module, always.
"""
from importlib import import_module

from .config import StudyConfig, check_notebook_parameters, list_profiles, load_study
from .plan import EvalRequest, Plan, PlannedRow, PlannedRun, plan_study, read_cost

__all__ = ["StudyConfig", "load_study", "list_profiles", "check_notebook_parameters", "Plan", "PlannedRun",
           "PlannedRow", "EvalRequest", "plan_study", "read_cost", "prepare_data"]

_LAZY = {"prepare_data": "execute"}       # name -> submodule that defines it, imported on first use


def __getattr__(name: str):
    """PEP 562: the executor's names load the trainer and evaluator only when asked for."""
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
