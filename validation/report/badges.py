"""Verdict badges: a verdict's text and the CSS class that colours it, for every report.

A badge is ``{"text": "PASS", "css": "pass"}``; the stylesheet (``reports/report.css``) gives
each class its colour. An unknown or missing verdict shows as NOT EVALUABLE, never as a pass.
"""

from __future__ import annotations

from typing import Any

#: Verdict words and their CSS classes.
VERDICT_CSS: dict[str, str] = {
    "PASS": "pass",
    "FAIL": "fail",
    "MET": "pass",
    "NOT MET": "fail",
    "NON-INFERIOR": "pass",
    "NOT NON-INFERIOR": "fail",
    "NOT TESTED": "not-tested",
    "NOT EVALUABLE": "not-evaluable",
}
NOT_EVALUABLE = "NOT EVALUABLE"


def badge(verdict: Any) -> dict[str, str]:
    """A verdict (PASS, FAIL, NON-INFERIOR, ...) as a badge; None is NOT EVALUABLE.

    Examples
    --------
    >>> badge("pass"), badge(None)
    ({'text': 'PASS', 'css': 'pass'}, {'text': 'NOT EVALUABLE', 'css': 'not-evaluable'})
    """
    text = str(verdict).upper() if verdict is not None else NOT_EVALUABLE
    return {"text": text, "css": VERDICT_CSS.get(text, "not-evaluable")}


def met(flag: Any) -> dict[str, str]:
    """A goal judgement (True, False or None) as a MET / NOT MET / NOT EVALUABLE badge.

    Examples
    --------
    >>> met(True)["text"], met(False)["css"], met(None)["text"]
    ('MET', 'fail', 'NOT EVALUABLE')
    """
    if flag is True:
        return badge("MET")
    if flag is False:
        return badge("NOT MET")
    return badge(None)
