"""The evidence report's kinds (the submission it supports) and the sections of each kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from validation.exceptions import ReportError
from validation.report.outputs import outputs_of, present
from validation.report.sections import sections_for
from validation.report.text import load_text

#: The report kinds: the submission a report supports (their words: reports/text/evidence.yaml).
KINDS = ("510k", "de-novo")


def check_kind(kind: str) -> None:
    """Raise :class:`ReportError` unless ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        raise ReportError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")


def evidence_sections(kind: str, results: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The sections of an evidence report of ``kind``, in order (see
    :func:`validation.report.sections.sections_for`).

    Raises
    ------
    ReportError
        If ``kind`` is not one of :data:`KINDS`.
    """
    check_kind(kind)
    outputs = present(outputs_of(results)) if results is not None else None
    return sections_for(load_text("evidence")["sections"], kind, results, outputs)
