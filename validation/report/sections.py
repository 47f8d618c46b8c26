"""The section registry of a report: which partials a report of a kind holds, in order.

A report's sections are listed in its text file (``reports/text/<report>.yaml``, key
``sections``): each has an ``id`` (its anchor is ``sec-<id>``), a ``title``, the partial
``template`` that renders it, and optionally ``appendix: true``, the report ``kinds`` it belongs
to (all when absent), a results block it ``requires`` (left out when the results lack it) and
the protocol ``output`` it is about (``measurement`` or ``finding``: left out when the protocol
declares no such output).
The table of contents, the cross-references and the checklist page numbers all come from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def sections_for(
    sections: Sequence[Mapping[str, Any]],
    kind: str | None = None,
    results: Mapping[str, Any] | None = None,
    outputs: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """The sections of a report of ``kind``, in order, each with its ``appendix`` flag.

    Parameters
    ----------
    sections : sequence of mapping
        The report's section list (its text file's ``sections``).
    kind : str, optional
        The report kind (``"510k"``, ``"de-novo"``); a section restricted to other ``kinds``
        is left out.
    results : mapping, optional
        The report's results; a section that ``requires`` a block is kept only when they hold
        it (not empty).
    outputs : iterable of str, optional
        The outputs the protocol declares (``"measurement"``, ``"finding"``); a section about
        another ``output`` is left out. None keeps every section.

    Examples
    --------
    >>> listed = [{"id": "a", "title": "A", "template": "a.html"},
    ...           {"id": "b", "title": "B", "template": "b.html", "kinds": ["de-novo"]},
    ...           {"id": "c", "title": "C", "template": "c.html", "requires": "comparison"}]
    >>> [s["id"] for s in sections_for(listed, "510k", {"comparison": {"x": 1}})]
    ['a', 'c']
    >>> [s["id"] for s in sections_for([{**listed[0], "output": "finding"}], outputs=())]
    []
    """
    declared = None if outputs is None else set(outputs)
    return [
        {"appendix": False, **s}
        for s in sections
        if (kind is None or kind in s.get("kinds", (kind,)))
        and (not s.get("requires") or bool((results or {}).get(s["requires"])))
        and (declared is None or not s.get("output") or s["output"] in declared)
    ]


def section_index(sections: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Section id to ``{"id", "title", "appendix"}``: the targets of cross-references."""
    return {
        s["id"]: {"id": s["id"], "title": s["title"], "appendix": bool(s.get("appendix"))}
        for s in sections
    }


def links(ids: Iterable[str], index: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The sections among ``ids`` that the report has (anchor ``sec-<id>``), in the given order."""
    return [dict(index[i]) for i in ids if i in index]
