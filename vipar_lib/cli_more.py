"""Model, engine and report commands of ``vipar`` (registered into :mod:`vipar_lib.cli`)."""
