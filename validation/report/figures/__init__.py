"""Report figures: matplotlib (object-oriented API, no pyplot state) drawn to SVG and embedded as
data URIs.

Each figure has a ``*_figure`` function that draws and returns the matplotlib
:class:`~matplotlib.figure.Figure` (for tests) and a function that returns its record
``{"id", "src", "alt", "caption"}`` (:func:`~validation.report.figures.record.figure_record`).
Figures only draw what the analysis or the surveillance run computed; the look (palette, fonts,
sizes) is :mod:`validation.report.figures.style`.
"""
