"""The words of the reports that are not computed: data files beside the templates.

Regulatory boilerplate (the report kinds and their introductions, the signatories, the section
list, the risks to health and special controls, the STARD 2015 and CLAIM checklists, the general
limitations, the surveillance signals) lives in ``reports/text/<name>.yaml`` next to the
templates that print it, so that a quality team can review and change it without reading Python.

The text names the protocol's measurement and finding only through placeholders (``{measure}``,
``{measure_description}``, ``{unit}``, ``{finding}``, ``{finding_description}``: see
:func:`validation.report.outputs.text_words`), filled when a report loads its text with
``words``; an entry about one output only says so with ``output: measurement`` or
``output: finding`` and is left out of a report whose protocol lacks it (:func:`for_outputs`).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
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


def load_text(
    name: str, folder: str | Path | None = None, *, words: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The text data ``<templates>/text/<name>.yaml`` (``reports/text/`` by default).

    Parameters
    ----------
    name : str
        The text file's stem (``"evidence"``, ``"surveillance"``).
    folder : str or Path, optional
        The templates folder.
    words : mapping, optional
        The placeholders' values (:func:`validation.report.outputs.text_words`); every
        ``{placeholder}`` of every string is filled. Without ``words`` the text is returned as
        written (for its structure: section ids, keys).

    Raises
    ------
    ReportError
        If the file is missing or malformed, lacks one of its keys, or a string names a
        placeholder ``words`` lacks.
    """
    path = templates_dir(folder) / "text" / f"{name}.yaml"
    data = _load(path, name)
    return data if words is None else fill(data, words, source=path)


def fill(data: Any, words: Mapping[str, str], *, source: str | Path = "text") -> Any:
    """A copy of ``data`` with the ``{placeholder}`` of every string filled from ``words``.

    Examples
    --------
    >>> fill({"risk": ["Missed {finding}"]}, {"finding": "reduced EF"})
    {'risk': ['Missed reduced EF']}

    Raises
    ------
    ReportError
        If a string names a placeholder ``words`` lacks (the message names it and the file).
    """
    if isinstance(data, str):
        names = {f for _, f, _, _ in string.Formatter().parse(data) if f is not None}
        unknown = sorted(names - set(words))
        if unknown:
            raise ReportError(
                f"{source}: placeholder(s) {', '.join(unknown)} in {data[:60]!r}: expected one "
                f"of {', '.join(sorted(words))}"
            )
        return data.format_map(words) if names else data
    if isinstance(data, Mapping):
        return {k: fill(v, words, source=source) for k, v in data.items()}
    if isinstance(data, list):
        return [fill(v, words, source=source) for v in data]
    return data


def for_outputs(
    entries: Iterable[Mapping[str, Any]], outputs: Iterable[str]
) -> list[Mapping[str, Any]]:
    """The text entries (risks, controls, limitations) about an output the protocol declares:
    those without an ``output`` key and those whose ``output`` is in ``outputs``.

    Examples
    --------
    >>> [e["id"] for e in for_outputs([{"id": "a"}, {"id": "b", "output": "finding"}],
    ...                               ["measurement"])]
    ['a']
    """
    declared = set(outputs)
    return [e for e in entries if not e.get("output") or e["output"] in declared]


@cache
def _load(path: Path, name: str) -> dict[str, Any]:
    data = load_yaml(path, error=ReportError)
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a mapping of text blocks, got {type(data).__name__}")
    missing = [key for key in REQUIRED_KEYS.get(name, ()) if key not in data]
    if missing:
        raise ReportError(f"{path}: lacks the text block(s) {', '.join(missing)}")
    return data
