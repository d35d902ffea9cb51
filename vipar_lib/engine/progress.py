"""The engine's one progress-bar helper (training epochs, evaluation batches, the executor's runs).

* In a terminal: tqdm on stderr, as usual.
* In a Jupyter kernel (JupyterLab, papermill): a one-line text bar in the cell's output, updated in
  place through an IPython display handle. Bars of one ``slot`` (``train``, ``eval``, ``runs``) share
  a line within the executing cell, so a cell that trains twenty runs shows one live training line,
  not twenty. JupyterLab shows it live; papermill keeps the last state in the executed notebook,
  so the HTML report shows where each bar ended, not a frozen widget or stderr noise.
"""
from __future__ import annotations

import time

__all__ = ["bar", "in_notebook", "TextBar"]

_HANDLES: dict[tuple[int, str], object] = {}     # (cell execution count, slot) -> display handle


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and hasattr(ip, "kernel")


def _handle(slot: str):
    from IPython import get_ipython
    from IPython.display import display
    key = (get_ipython().execution_count, slot)
    if key not in _HANDLES:
        _HANDLES[key] = display({"text/plain": ""}, raw=True, display_id=True)
    return _HANDLES[key]


class TextBar:
    """The part of tqdm's interface the project uses (``update``, ``set_postfix``, ``close``), as a text line."""

    def __init__(self, total: int, desc: str, unit: str = "step", slot: str = "bar", min_interval: float = 0.5):
        self.total, self.desc, self.unit = total, desc, unit
        self.n, self.postfix, self.t0, self.last = 0, "", time.time(), 0.0
        self.min_interval = min_interval
        self.handle = _handle(slot)
        self._render(True)

    def text(self) -> str:
        from tqdm import tqdm
        line = tqdm.format_meter(self.n, self.total, time.time() - self.t0, prefix=self.desc, unit=self.unit,
                                 ncols=100)
        return line + (f" {self.postfix}" if self.postfix else "")

    def _render(self, force: bool = False):
        now = time.time()
        if force or now - self.last >= self.min_interval:
            self.last = now
            self.handle.update({"text/plain": self.text()}, raw=True)

    def update(self, n: int = 1):
        self.n += n
        self._render(self.total is not None and self.n >= self.total)

    def set_postfix(self, **kw):
        self.postfix = ", ".join(f"{k}={v}" for k, v in kw.items())
        self._render()

    def close(self):
        self._render(True)


def bar(total, desc, on: bool, unit: str = "step", slot: str = ""):
    """A progress bar (tqdm's ``update``/``set_postfix``/``close``), or None when ``on`` is false.

    ``slot`` names the notebook line the bar reuses (default: its unit).
    """
    if not on:
        return None
    if in_notebook():
        return TextBar(total, desc, unit, slot or unit)
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, leave=False)
