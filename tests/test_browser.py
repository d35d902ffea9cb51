"""The JupyterLab path, in a real browser: JupyterLab serves a copy of notebook 01, headless Chromium runs all its
cells on the smoke profile, and the test reads what the page renders.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright's Python package (requirements.txt), which
drives that binary through ``executable_path``; Playwright's own browser download is never used. Without
chromium the test is skipped with the reason, except in CI (``CI=true``), where that is a failure.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from vipar_lib import REPO_DIR
from vipar_lib.study import load_study, plan_study
from vipar_lib.study.execute import execute

NOTEBOOK = "01_module_ablations"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# the test's own evaluation setting: one clip per video, so the evaluations run (and show their bar) on every run
OVERRIDES = {"eval": {"num_clips": 1}}
NEWS = "official Jupyter news"


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
    if path is None:
        msg = "Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must install chromium: {msg}")
        pytest.skip(msg)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on a free local port with a token, serving a copy of the notebook (the repository's stays clean)."""
    chromium = _chromium()
    pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt (make setup installs it)")
    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.read(REPO_DIR / "notebooks" / f"{NOTEBOOK}.ipynb", as_version=4)
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source = f'profile = "smoke"\noverrides = {json.dumps(OVERRIDES)}'
    nbformat.write(nb, root / f"{NOTEBOOK}.ipynb")
    # Table 1's runs are trained here, outside the browser (the other tests reuse them); the notebook's own
    # evaluations (one clip per video) are removed first, so they run in the browser and their progress bar shows
    execute(plan_study(load_study("smoke")), ["table1"], progress=False)
    plan = plan_study(load_study("smoke", OVERRIDES))
    for q in plan.requests(["table1"]):
        plan.logits_path(q).unlink(missing_ok=True)
    port, token = _free_port(), os.urandom(16).hex()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    log = tmp_path / "lab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={tmp_path / 'settings'}", f"--LabApp.workspaces_dir={tmp_path / 'ws'}",
           "--LabApp.expose_app_in_browser=True", "--allow-root"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield {"base": base, "token": token, "root": root, "chromium": chromium, "log": log, "profile": tmp_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _news_defaults(lab) -> dict:
    """The notification settings' defaults as this JupyterLab serves them (overrides.json applied)."""
    url = f"{lab['base']}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={lab['token']}"
    with urllib.request.urlopen(url, timeout=10) as r:
        props = json.loads(r.read())["schema"]["properties"]
    return {k: props[k].get("default") for k in ("fetchNews", "checkForUpdates")}


@pytest.mark.slow
def test_jupyterlab_runs_a_notebook_in_chromium(lab):
    from playwright.sync_api import sync_playwright
    # the environment's overrides.json (make setup): never fetch news, never ask, no update check
    assert _news_defaults(lab) == {"fetchNews": "false", "checkForUpdates": False}
    shots = Path(os.environ.get("VIPAR_BROWSER_SHOTS", lab["profile"]))
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(lab["profile"] / "chromium"), executable_path=lab["chromium"],
                                                   headless=True, args=CHROMIUM_FLAGS,
                                                   viewport={"width": 1280, "height": 1000})
        try:
            page = ctx.new_page()
            page.goto(f"{lab['base']}/lab/tree/{NOTEBOOK}.ipynb?token={lab['token']}", timeout=120_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
                                   " === 'idle'", timeout=120_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # done: every code cell has an execution count and the kernel is idle again
            page.wait_for_function(
                """() => {
                     const nb = window.jupyterapp.shell.currentWidget;
                     const cells = nb.content.widgets.filter(c => c.model.type === 'code');
                     return nb.sessionContext.session.kernel.status === 'idle'
                       && cells.every(c => c.model.executionCount !== null);
                   }""", timeout=540_000, polling=1000)
            page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / "jupyterlab_top.png"))
            out = page.locator(".jp-OutputArea-output")
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            error_text = "\n".join(errors.all_inner_texts())
            # no error: no traceback in any output, and the saved notebook holds no error output
            assert out.count() > 5 and "Traceback" not in error_text, error_text
            saved = nbformat.read(lab["root"] / f"{NOTEBOOK}.ipynb", as_version=4)
            kinds = [o.get("output_type") for c in saved.cells if c.cell_type == "code" for o in c.outputs]
            assert "error" not in kinds and "display_data" in kinds
            # a table: Table 1 with this run's numbers
            table = page.locator(".jp-RenderedHTMLCommon table", has_text="this run: top-1").first
            table.scroll_into_view_if_needed()
            assert "T1.8" in table.inner_text() and "chance =" in table.inner_text()
            # a figure, drawn (an image the browser decoded) and with alt text
            img = page.locator(".jp-RenderedHTMLCommon img[alt*='Table 1']").first
            img.scroll_into_view_if_needed()
            assert img.evaluate("i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100")
            # a progress bar's final state: the evaluations ran, and their bar ends full
            bar = page.locator(".vipar-progress", has_text="evaluations").first
            bar.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "jupyterlab_progress.png"))
            value, top = bar.locator("progress").evaluate("p => [p.value, p.max]")
            assert value == top > 0 and "100%" in bar.inner_text()
            # the news prompt never showed
            assert page.get_by_text(NEWS).count() == 0
        finally:
            ctx.close()
    log = lab["log"].read_text()
    assert "Traceback" not in log
    assert "Kernel started" in log and "without encryption" not in log      # the kernel talked over IPC sockets
