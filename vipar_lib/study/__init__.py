"""The study: params file -> typed :class:`StudyConfig` -> pure :class:`Plan` -> executor (run store).

::

    params/<profile>.yaml ──load_study──► StudyConfig ──plan_study──► Plan (runs, eval requests, table rows)
                                                                         │
                                                       execute(plan, tables) ──► run store (train, evaluate)

The reports read the run store through the same :class:`Plan`; they never call :func:`execute`.
"""
from .config import StudyConfig, check_notebook_parameters, list_profiles, load_study
from .execute import execute, prepare_data
from .plan import EvalRequest, Plan, PlannedRow, PlannedRun, plan_study, read_cost

__all__ = ["StudyConfig", "load_study", "list_profiles", "check_notebook_parameters", "Plan", "PlannedRun",
           "PlannedRow", "EvalRequest", "plan_study", "execute", "prepare_data", "read_cost"]
