"""The README's commands run as written, and its interpretation table is the data's."""
import os
import re
import shutil
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


def _written(block: str) -> list[str]:
    """The paths a README block writes where it is typed: --out files, heredocs, synth/split folders, runs_dir."""
    pats = (r"--out (\S+)", r"cat > (\S+) <<", r"vipar synth (\S+)", r"vipar split \S+ (\S+)", r"runs_dir: ([^,}\s]+)")
    return sorted({m for p in pats for m in re.findall(p, block)})


@pytest.mark.skipif(shutil.which("git") is None or not (REPO_DIR / ".git").exists(), reason="needs a git checkout")
def test_what_the_readme_blocks_write_in_the_checkout_is_ignored_by_git():
    """#21: the README's CLI block, typed in the repository root, leaves nothing untracked."""
    paths = [p for b in _tested_blocks() for p in _written(b)]
    assert {"mini.yaml", "ens.npz", "submission.txt", "ground_truth.txt", "data/mini", "runs/mini"} <= set(paths)
    for p in paths:
        r = subprocess.run(["git", "check-ignore", "-q", "--no-index", p], cwd=REPO_DIR)
        assert r.returncode == 0, f"{p}: written by the README's commands but not covered by .gitignore"
