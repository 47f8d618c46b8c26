"""Every document the toolkit renders: the evidence reports (510(k), De Novo) and the
post-market surveillance report.

One package, one toolkit: :mod:`~validation.report.document` renders any report (Jinja2 to HTML,
WeasyPrint to PDF/A-3b), :mod:`~validation.report.filters` formats numbers,
:mod:`~validation.report.labels` and :mod:`~validation.report.badges` name things and verdicts,
:mod:`~validation.report.sections` lists a report's sections, :mod:`~validation.report.text`
reads the fixed words from ``reports/text/``, and :mod:`~validation.report.figures` draws the
figures. :mod:`~validation.report.evidence` and :mod:`~validation.report.surveillance` build each
report's context from its input, read through its written contract (``validation/schemas/``).
The reports compute no statistics. Templates and stylesheets live in ``reports/``.
"""

from __future__ import annotations

from validation.report.document import render_document, render_html, write_pdf
from validation.report.evidence import (
    build_context,
    load_results,
    render_evidence_html,
    render_report,
)
from validation.report.surveillance import (
    build_surveillance_context,
    load_surveillance,
    render_surveillance_html,
    render_surveillance_report,
)

__all__ = [
    "build_context",
    "build_surveillance_context",
    "load_results",
    "load_surveillance",
    "render_document",
    "render_evidence_html",
    "render_html",
    "render_report",
    "render_surveillance_html",
    "render_surveillance_report",
    "write_pdf",
]
