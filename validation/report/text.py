"""The words of the reports that are not computed: data files beside the templates.

Regulatory boilerplate (the report kinds and their introductions, the signatories, the section
list, the risks to health and special controls, the STARD 2015 and CLAIM checklists, the general
limitations, the surveillance signals) lives in ``reports/text/<name>.yaml`` next to the
templates that print it, so that a quality team can review and change it without reading Python.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from validation.exceptions import ReportError
from validation.report.document import templates_dir
from validation.schema import load_yaml

#: The keys each text file must define.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "evidence": (
        "kinds",
        "signatories",
        "sections",
        "hypotheses",
        "risks",
        "special_controls",
        "special_control_status",
        "stard_2015",
        "claim",
        "general_limitations",
    ),
    "surveillance": (
        "sections",
        "signatories",
        "signals",
        "tests",
        "effects",
        "variables",
        "header_fields",
        "missing",
        "not_assessed",
    ),
}


def load_text(name: str, folder: str | Path | None = None) -> dict[str, Any]:
    """The text data ``<templates>/text/<name>.yaml`` (``reports/text/`` by default).

    Raises
    ------
    ReportError
        If the file is missing or malformed, or lacks one of its keys.
    """
    return _load(templates_dir(folder) / "text" / f"{name}.yaml", name)


@cache
def _load(path: Path, name: str) -> dict[str, Any]:
    data = load_yaml(path, error=ReportError)
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a mapping of text blocks, got {type(data).__name__}")
    missing = [key for key in REQUIRED_KEYS.get(name, ()) if key not in data]
    if missing:
        raise ReportError(f"{path}: lacks the text block(s) {', '.join(missing)}")
    return data
