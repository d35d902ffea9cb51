"""The README's commands run as written, and its interpretation table is the data's."""
import os
import re
import subprocess

import pytest

from vipar_lib import REPO_DIR
from vipar_lib.report.interpretation import README_BEGIN, README_END, markdown

README = (REPO_DIR / "README.md").read_text()
MARK = "<!-- README-TEST"


def _tested_blocks() -> list[str]:
    blocks = []
    for part in README.split(MARK)[1:]:
        m = re.search(r"```bash\n(.*?)```", part, re.S)
        assert m, "a README-TEST marker must be followed by a bash block"
        blocks.append(m.group(1))
    return blocks


def test_the_readme_marks_its_cpu_session_for_testing():
    blocks = _tested_blocks()
    assert blocks and any("vipar train" in b for b in blocks)


@pytest.mark.slow
@pytest.mark.parametrize("i", range(len(_tested_blocks())))
def test_readme_commands_run_as_written(i, tmp_path):
    """Each marked block runs in a fresh folder that has the project's .venv, as a user's checkout does."""
    (tmp_path / ".venv").symlink_to(REPO_DIR / ".venv")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", _tested_blocks()[i]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    if "vipar score" in _tested_blocks()[i]:
        assert re.search(r"top-1 \d+\.\d\d%", proc.stdout)


def test_the_readme_interpretation_table_is_the_data():
    start, end = README.find(README_BEGIN), README.find(README_END)
    assert start >= 0 and end > start, "the README needs the generated interpretation table between its markers"
    assert README[start:end + len(README_END)] == markdown(), (
        "README's interpretation table differs from vipar_lib/interpretation.yaml: regenerate it with\n"
        "python -c 'from vipar_lib.report.interpretation import markdown; print(markdown())'")
