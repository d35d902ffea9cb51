"""Training and evaluation engine: config, run store, train loop, evaluation with TTA."""
