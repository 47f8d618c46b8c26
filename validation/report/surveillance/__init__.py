"""The post-market surveillance report: ``surveillance.json`` to HTML and an archival PDF.

The report reads ``results/<protocol>/surveillance/surveillance.json`` (written by
``mval monitor run``) through its written contract (``validation/schemas/surveillance.schema.json``)
and computes no statistics: every chart statistic, limit, test, effect size, interval and alarm
comes from that file. :mod:`~validation.report.surveillance.context` checks the file and
assembles the template context from one module per group of sections (census and integrity,
drift, output control charts, audited performance and the change of the audited bias, alerts,
the false-alarm plan, the baseline appendix); the figures are
:mod:`validation.report.figures.surveillance`; the fixed words are
``reports/text/surveillance.yaml`` and the templates ``reports/surveillance/``.
"""

from __future__ import annotations

from validation.report.surveillance.context import (
    build_surveillance_context,
    check_surveillance,
    load_surveillance,
    render_surveillance_html,
    render_surveillance_report,
    surveillance_sections,
)

__all__ = [
    "build_surveillance_context",
    "check_surveillance",
    "load_surveillance",
    "render_surveillance_html",
    "render_surveillance_report",
    "surveillance_sections",
]
