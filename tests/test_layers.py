"""The package's import graph: no cycles, and reports that load nothing that trains (import-linter, run by
`make test`, checks the layers and the static form of the second)."""
import grimp


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return out


def test_no_import_cycles():
    graph = grimp.build_graph("vipar_lib")
    assert len(graph.modules) > 30
    assert _cycles(graph) == []


TRAINING_MODULES = ("vipar_lib.engine.train", "vipar_lib.engine.evaluate", "vipar_lib.study.execute")


def test_reports_load_without_the_training_loop():
    """Importing every report module (and the study's package face) loads no trainer, evaluator or executor.

    The import-linter contract checks the static graph; this checks what Python actually loads, in a
    fresh interpreter, so a lazy or function-level import cannot hide the trainer either.
    """
    import json
    import subprocess
    import sys

    code = ("import importlib, json, pkgutil, sys\n"
            "import vipar_lib.report as r, vipar_lib.study\n"
            "mods = [importlib.import_module(f'vipar_lib.report.{m.name}') for m in pkgutil.iter_modules(r.__path__)]\n"
            "print(json.dumps({'report': [m.__name__ for m in mods], 'loaded': sorted(sys.modules)}))\n")
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert {"vipar_lib.report.pages", "vipar_lib.report.runner", "vipar_lib.report.tables"} <= set(out["report"])
    assert "torch" in out["loaded"] and "vipar_lib.study.plan" in out["loaded"]   # the test would see them
    assert not set(TRAINING_MODULES) & set(out["loaded"])


def test_the_executor_is_one_import_away():
    """Notebooks import the executor from its module; ``prepare_data`` is also lazily on the package face."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from vipar_lib.study import prepare_data\n"
            "assert callable(prepare_data)\n"
            "from vipar_lib.study.execute import execute\n"
            "import vipar_lib.study as s\n"
            "assert callable(execute) and s.execute.__name__ == 'vipar_lib.study.execute'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
