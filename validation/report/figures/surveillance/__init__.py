"""The surveillance report's figures: control charts, the audited bias and the drift maps.

They only draw what the surveillance run computed and wrote to ``surveillance.json``: the CUSUM
and EWMA statistics, their limits and alarm flags, the monthly means, the audited bias with its
interval, the audited bias's change since validation (T) against its limit, and the drift effect
sizes. Nothing is estimated here. Small multiples share one layout
(:mod:`~validation.report.figures.surveillance.panels`): one row per site with its vendors side
by side and the pooled segment in the last row, all on the same axes; colour is never the only
cue (an alarmed segment's panel has a thick frame, a "\u2717 ALARM from <month>" title and cross
markers, and the onset month is a labelled vertical line).

Each figure has a ``*_figure`` function returning the matplotlib
:class:`~matplotlib.figure.Figure` and a function returning its record
(:func:`~validation.report.figures.record.figure_record`):
:mod:`~validation.report.figures.surveillance.charts` (CUSUM, EWMA, an alarmed stream),
:mod:`~validation.report.figures.surveillance.performance` (the audited bias and its change
since validation) and :mod:`~validation.report.figures.surveillance.drift` (the drift maps).
"""
