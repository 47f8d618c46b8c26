"""The evidence report (510(k) / De Novo): context from ``results.json`` and ``analysed.csv``,
one part per group of sections, rendered with :func:`validation.report.document.render_document`.
"""

from __future__ import annotations

from validation.report.evidence.context import (
    REQUIRED_COLUMNS,
    build_context,
    check_results,
    load_results,
    render_evidence_html,
    render_report,
)
from validation.report.evidence.kinds import KINDS, evidence_sections

__all__ = [
    "KINDS",
    "REQUIRED_COLUMNS",
    "build_context",
    "check_results",
    "evidence_sections",
    "load_results",
    "render_evidence_html",
    "render_report",
]
