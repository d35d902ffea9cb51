"""The project's Jupyter environment: kernels on IPC sockets, and JupyterLab without its news prompt.

``make setup`` runs ``python -m vipar_lib.report.kernel``, which writes two files into the virtual
environment (``sys.prefix``; nothing in the user's home):

* ``share/jupyter/kernels/python3/kernel.json`` — ipykernel's own spec plus
  ``metadata.kernel_provisioner = {"provisioner_name": "vipar-ipc-provisioner"}``. That provisioner
  (:class:`IPCProvisioner`, registered as an entry point in ``pyproject.toml``) moves the kernel's
  sockets from TCP ports on localhost to IPC files in a private temporary folder, as ``vipar
  reproduce`` does. So a kernel started by plain ``papermill``, by nbval or by JupyterLab no longer
  prints ipykernel's "Kernel is running over TCP without encryption" warning: there is no TCP to
  warn about. Nothing is filtered; every other kernel message and every error still reaches stderr.
* ``share/jupyter/lab/settings/overrides.json`` — JupyterLab's defaults for this environment:
  ``fetchNews: "false"`` and ``checkForUpdates: false`` (no "Would you like to get notified about
  official Jupyter news?" prompt, no request to the news feed). A user can still turn them on in
  JupyterLab's settings.

Run it again after reinstalling ipykernel (``make setup`` does).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

__all__ = ["IPCProvisioner", "PROVISIONER", "LAB_OVERRIDES", "install", "kernel_spec_path", "lab_overrides_path"]

PROVISIONER = "vipar-ipc-provisioner"
_PREFIX = "vipar-kernel-"
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


class IPCProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the kernel's sockets as IPC files in a private folder.

    The folder (``mkdtemp``: mode 0700) is made when a TCP kernel is launched and removed when it
    shuts down for good; a restart keeps it, with the connection file. A kernel manager that already
    asks for IPC (``vipar reproduce``'s) is left as it is.
    """

    async def pre_launch(self, **kwargs):
        km = self.parent
        if km is not None and km.transport == "tcp":
            km.transport = "ipc"
            km.ip = os.path.join(tempfile.mkdtemp(prefix=_PREFIX), "ipc")
        return await super().pre_launch(**kwargs)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        km = self.parent
        if restart or km is None or km.transport != "ipc":
            return
        folder = Path(km.ip).parent
        if folder.name.startswith(_PREFIX) and folder.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(folder, ignore_errors=True)


def kernel_spec_path(prefix: str | os.PathLike = sys.prefix) -> Path:
    return Path(prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"


def lab_overrides_path(prefix: str | os.PathLike = sys.prefix) -> Path:
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def _read_json(p: Path) -> dict:
    try:
        return json.loads(p.read_text()) if p.is_file() else {}
    except json.JSONDecodeError:
        return {}


def install(prefix: str | os.PathLike = sys.prefix) -> list[Path]:
    """Write the kernel spec and JupyterLab's overrides into ``prefix``; returns the files written."""
    from ipykernel.kernelspec import get_kernel_dict
    spec_path = kernel_spec_path(prefix)
    spec = _read_json(spec_path) or get_kernel_dict()
    if "argv" in spec and spec["argv"] and Path(spec["argv"][0]).name.startswith("python"):
        spec["argv"][0] = "python"          # jupyter_client runs the environment's own interpreter for "python"
    spec.setdefault("display_name", "Python 3 (ipykernel)")
    spec.setdefault("language", "python")
    spec.setdefault("metadata", {})["kernel_provisioner"] = {"provisioner_name": PROVISIONER}
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=1) + "\n")
    if not (spec_path.parent / "logo-64x64.png").is_file():        # the logos JupyterLab's launcher shows
        from ipykernel.kernelspec import RESOURCES
        for f in Path(RESOURCES).iterdir():
            shutil.copy(f, spec_path.parent / f.name)
    lab_path = lab_overrides_path(prefix)
    lab = _read_json(lab_path)
    for plugin, settings in LAB_OVERRIDES.items():
        lab.setdefault(plugin, {}).update(settings)
    lab_path.parent.mkdir(parents=True, exist_ok=True)
    lab_path.write_text(json.dumps(lab, indent=1) + "\n")
    return [spec_path, lab_path]


if __name__ == "__main__":
    for p in install():
        print(f"wrote {p}")
