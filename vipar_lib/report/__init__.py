"""Reports: tables, findings, figures and pages read from the run store, and the HTML runner.

::

    Plan ──► results (logits files, cost.json, metrics.json) ──► tables / findings / figures
                                                                        │
                                      pages (notebook cells) ◄──────────┤
                                      summary.json ──► runner: HTML + index

Nothing here trains or evaluates: a notebook calls the study's ``execute`` first, then these.
"""
