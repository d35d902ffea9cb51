"""Plain papermill (and JupyterLab, nbval) start kernels on IPC sockets: no TCP warning, and real errors still show."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat

from vipar_lib.report.kernel import LAB_OVERRIDES, PROVISIONER, install, kernel_spec_path, lab_overrides_path

WARNING = "running over TCP without encryption"
PAPERMILL = Path(sys.executable).parent / "papermill"


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _papermill(src: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(PAPERMILL), str(src), str(out), "--no-progress-bar"], capture_output=True, text=True,
                          timeout=180, cwd=src.parent)


def test_the_environment_kernel_uses_the_ipc_provisioner():
    spec = json.loads(kernel_spec_path().read_text())     # written by `make setup` into the venv
    assert spec["metadata"]["kernel_provisioner"] == {"provisioner_name": PROVISIONER}
    assert spec["argv"][0] == "python" and "ipykernel_launcher" in spec["argv"]
    lab = json.loads(lab_overrides_path().read_text())
    assert lab["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_install_writes_spec_and_lab_overrides_into_a_prefix(tmp_path):
    settings = lab_overrides_path(tmp_path)
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}))
    paths = install(tmp_path)
    assert paths == [kernel_spec_path(tmp_path), settings]
    spec = json.loads(paths[0].read_text())
    assert spec["metadata"]["kernel_provisioner"]["provisioner_name"] == PROVISIONER and spec["language"] == "python"
    assert (paths[0].parent / "logo-64x64.png").is_file()
    lab = json.loads(settings.read_text())
    assert lab["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}      # a user's entry is kept
    key = "@jupyterlab/apputils-extension:notification"
    assert lab[key] == LAB_OVERRIDES[key]
    assert install(tmp_path) == paths and json.loads(paths[0].read_text()) == spec           # idempotent


def test_plain_papermill_prints_no_tcp_warning_and_still_shows_errors(tmp_path):
    ok = _notebook(tmp_path / "ok.ipynb", "import json\nfrom ipykernel.connect import get_connection_info\n"
                                          "print(json.loads(get_connection_info())['transport'])")
    r = _papermill(ok, tmp_path / "ok.out.ipynb")
    assert r.returncode == 0, r.stderr
    assert WARNING not in r.stderr + r.stdout
    out = nbformat.read(tmp_path / "ok.out.ipynb", as_version=4)
    assert out.cells[0].outputs[0]["text"].strip() == "ipc"
    # a real error still reaches the user: papermill fails, names it, and the kernel's stderr is not muted
    bad = _notebook(tmp_path / "bad.ipynb", "import sys\nprint('kernel stderr works', file=sys.stderr)",
                    "raise ValueError('boom in cell 2')")
    r = _papermill(bad, tmp_path / "bad.out.ipynb")
    assert r.returncode != 0
    assert "ValueError: boom in cell 2" in r.stderr and WARNING not in r.stderr
    out = nbformat.read(tmp_path / "bad.out.ipynb", as_version=4)
    (first,) = [c for c in out.cells if c.cell_type == "code" and "kernel stderr" in c.source]
    assert first.outputs[0]["name"] == "stderr" and "kernel stderr works" in first.outputs[0]["text"]
