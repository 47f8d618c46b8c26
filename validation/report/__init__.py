"""The evidence report: a plain context built from the analysis results, rendered to HTML and PDF.

The report reads ``results/<protocol>/analysis/results.json`` and ``analysed.csv``; it computes no
statistics. Number formatting lives only in :mod:`validation.report.filters`; templates and the
stylesheet live in ``reports/``.
"""

from __future__ import annotations

from validation.report.context import REQUIRED_COLUMNS, REQUIRED_FIELDS, build_context, load_results
from validation.report.render import render_html, render_report, write_pdf

__all__ = [
    "REQUIRED_COLUMNS",
    "REQUIRED_FIELDS",
    "build_context",
    "load_results",
    "render_html",
    "render_report",
    "write_pdf",
]
