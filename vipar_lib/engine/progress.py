"""The engine's one progress-bar helper (training epochs, evaluation batches, the executor's runs).

* In a terminal: tqdm on stderr, as usual.
* In a Jupyter kernel (JupyterLab, papermill): a one-line bar in the cell's output, updated in
  place through an IPython display handle. Bars of one ``slot`` (``train``, ``eval``, ``runs``) share
  a line within the executing cell, so a cell that trains twenty runs shows one live training line,
  not twenty. JupyterLab shows it live; papermill keeps the last state in the executed notebook,
  so the HTML report shows where each bar ended, not a frozen widget or stderr noise.
* The line is HTML (an HTML ``<progress>`` element, the counts, times and rate, the postfix in
  grey) that wraps inside the page's width instead of running off its right edge; a plain-text
  tqdm line of at most 80 characters rides along for frontends without HTML.
"""
from __future__ import annotations

import html
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
    """The part of tqdm's interface the project uses (``update``, ``set_postfix``, ``close``), as one notebook line."""

    def __init__(self, total: int, desc: str, unit: str = "step", slot: str = "bar", min_interval: float = 0.5):
        self.total, self.desc, self.unit = total, desc, unit
        self.n, self.postfix, self.t0, self.last = 0, "", time.time(), 0.0
        self.min_interval = min_interval
        self.handle = _handle(slot)
        self._render(True)

    def text(self) -> str:
        """tqdm's line, at most 80 characters wide; the postfix on a line of its own."""
        from tqdm import tqdm
        line = tqdm.format_meter(self.n, self.total, time.time() - self.t0, prefix=self.desc, unit=self.unit,
                                 ncols=80)
        return line + (f"\n    {self.postfix}" if self.postfix else "")

    def html(self) -> str:
        """The same state as HTML: description, a ``<progress>`` bar, ``n/total``, percent, times, rate, postfix."""
        from tqdm import tqdm
        total = self.total or 0
        stats = tqdm.format_meter(self.n, self.total, time.time() - self.t0, unit=self.unit,
                                  bar_format="{n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")
        pct = f"{100 * self.n / total:.0f}%" if total else ""
        value = f' value="{min(self.n, total)}" max="{total}"' if total else ""
        post = f' <span style="color:#666">{html.escape(self.postfix)}</span>' if self.postfix else ""
        return (f'<div class="vipar-progress" style="font-family:monospace;font-size:12px;line-height:1.5;'
                f'white-space:normal;overflow-wrap:anywhere">{html.escape(self.desc)}: '
                f'<progress{value} style="width:14em;vertical-align:middle"></progress> {pct} '
                f"{html.escape(stats)}{post}</div>")

    def _render(self, force: bool = False):
        now = time.time()
        if force or now - self.last >= self.min_interval:
            self.last = now
            self.handle.update({"text/plain": self.text(), "text/html": self.html()}, raw=True)

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
