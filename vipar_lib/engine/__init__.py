"""Training and evaluation engine: config, run store, train loop, evaluation with TTA.

Entry points: :func:`vipar_lib.engine.train.train` and :func:`vipar_lib.engine.evaluate.evaluate_run`.
Errors a user can meet through the run store derive from
:class:`vipar_lib.engine.errors.EngineError` (one line each).
"""
