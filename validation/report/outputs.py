"""What the reports name: the protocol's measurement and finding, as the templates print them.

The protocol declares what the device outputs (``outputs.measurement``, ``outputs.finding``,
either may be absent) and every record the reports read copies that block
(``results.json`` and ``surveillance.json``: ``protocol.outputs``). This module turns it, once
per report, into the words and units the templates, the figures and the text files print:

* :func:`measure_context`: the measurement's label, description, UCUM unit, the symbol a
  reading is printed with and the one a difference of two readings is printed with (``pp``,
  percentage points, for a measurement in ``%``), and the decimals of its statistics;
* :func:`finding_context`: the finding's label, description, positive rule and threshold;
* :func:`text_words`: the placeholders of the text files (``{measure}``, ``{finding}``, ...),
  filled by :func:`validation.report.text.load_text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from validation.units import unit_symbol

#: The metrics of the measurement (of the device-minus-reference differences).
MEASUREMENT_METRICS: tuple[str, ...] = ("bias", "loa_low", "loa_high", "mae", "rmse")
#: The symbol of a difference of two readings in per cent: percentage points.
PERCENTAGE_POINTS = "pp"
#: Decimals of a reading when the protocol gives none (the schema's default).
DEFAULT_PRECISION = 1


def difference_symbol(unit: str) -> str:
    """The symbol a difference of two readings in ``unit`` is printed with.

    A difference of two values in per cent (two ejection fractions) is in percentage points;
    any other unit keeps its symbol (a difference of lengths in mm is in mm).

    Examples
    --------
    >>> difference_symbol("%"), difference_symbol("mm"), difference_symbol("1")
    ('pp', 'mm', '')
    """
    return PERCENTAGE_POINTS if unit == "%" else unit_symbol(unit)


def _parenthesised(symbol: str) -> str:
    return f" ({symbol})" if symbol else ""


def _after_comma(symbol: str) -> str:
    return f", {symbol}" if symbol else ""


def _lower_first(text: str) -> str:
    """``text`` with its first letter lower case unless it opens an acronym ("LVEF")."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def measure_context(outputs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """How the reports name and format the protocol's measurement (None when it has none).

    Parameters
    ----------
    outputs : mapping or None
        The protocol's ``outputs`` block as a record copies it (``protocol.outputs``).

    Returns
    -------
    dict or None
        ``name``, ``label``, ``description`` (the label when the protocol gives none),
        ``description_lower`` (for running text), ``unit`` (the UCUM code), ``symbol`` (of a
        reading), ``difference_symbol`` (of a difference of readings: ``pp`` for ``%``),
        ``precision`` (decimals of a reading), ``digits`` (of a statistic: one more),
        ``axis`` ("LVEF (%)"), ``difference_axis`` (" (mm)" or ""), ``heading`` (", mm" or
        "") and ``difference_heading`` (", pp" for ``%``): the unit as a table heading adds it;
        ``difference_words``: the unit of a difference in words ("percentage points (pp)",
        "mm", "no unit").

    Examples
    --------
    >>> m = measure_context({"measurement": {"name": "lvef", "label": "LVEF", "unit": "%",
    ...                                      "precision": 0}})
    >>> m["axis"], m["difference_heading"], m["digits"]
    ('LVEF (%)', ', pp', 1)
    >>> measure_context({"finding": {"name": "x", "label": "X", "threshold": 0.5}}) is None
    True
    """
    block = (outputs or {}).get("measurement")
    if not isinstance(block, Mapping):
        return None
    unit = str(block["unit"])
    precision = int(block.get("precision", DEFAULT_PRECISION))
    label = str(block["label"])
    description = str(block.get("description") or label)
    symbol, delta = unit_symbol(unit), difference_symbol(unit)
    return {
        "name": str(block["name"]),
        "label": label,
        "description": description,
        "description_lower": _lower_first(description),
        "unit": unit,
        "symbol": symbol,
        "difference_symbol": delta,
        "precision": precision,
        "digits": precision + 1,
        "axis": label + _parenthesised(symbol),
        "difference_axis": _parenthesised(delta),
        "heading": _after_comma(symbol),
        "difference_heading": _after_comma(delta),
        "difference_words": (
            "percentage points (pp)" if delta == PERCENTAGE_POINTS else delta or "no unit"
        ),
    }


def finding_context(outputs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """How the reports name the protocol's finding (None when it has none).

    Returns
    -------
    dict or None
        ``name``, ``label``, ``description`` (the label when the protocol gives none),
        ``description_lower``, ``positive`` (the reference standard's positive rule in words,
        "" when not given) and ``threshold`` (the probability at or above which a study is
        flagged).

    Examples
    --------
    >>> f = finding_context({"finding": {"name": "low_ef", "label": "Reduced EF", "threshold": 0.5,
    ...                                  "description": "Reduced ejection fraction"}})
    >>> f["label"], f["description_lower"]
    ('Reduced EF', 'reduced ejection fraction')
    """
    block = (outputs or {}).get("finding")
    if not isinstance(block, Mapping):
        return None
    label = str(block["label"])
    description = str(block.get("description") or label)
    return {
        "name": str(block["name"]),
        "label": label,
        "description": description,
        "description_lower": _lower_first(description),
        "positive": str(block.get("positive") or ""),
        "threshold": block.get("threshold"),
    }


def present(outputs: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The outputs a protocol declares, of ``("measurement", "finding")``, in that order."""
    return tuple(
        k for k in ("measurement", "finding") if isinstance((outputs or {}).get(k), Mapping)
    )


def text_words(outputs: Mapping[str, Any] | None) -> dict[str, str]:
    """The placeholders of the report text files, filled from the protocol's outputs.

    ``{measure}`` (the label), ``{measure_description}`` (lower case for running text),
    ``{unit}`` (the symbol of a reading), ``{finding}`` (the label) and
    ``{finding_description}``, and ``{goals}`` (what the performance goals are about, in
    words). An absent output's placeholders read generically ("the
    measurement", "the finding"): the text that names it is left out of the report anyway.

    Examples
    --------
    >>> text_words({"finding": {"name": "ref", "label": "Reduced EF", "threshold": 0.5}})[
    ...     "finding"]
    'Reduced EF'
    """
    m, f = measure_context(outputs), finding_context(outputs)
    goals = []
    if m:
        goals.append(
            f"agreement of the {m['label']} measurement with the reference (bias and limits of "
            "agreement) on the images of every supported vendor"
        )
    if f:
        goals.append(f"sensitivity and specificity of the {f['label']} flag")
    return {
        "goals": "; ".join(goals),
        "measure": m["label"] if m else "measurement",
        "measure_description": m["description_lower"] if m else "the measurement",
        "unit": m["symbol"] if m else "",
        "finding": f["label"] if f else "finding",
        "finding_description": f["description_lower"] if f else "the finding",
    }


def outputs_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``protocol.outputs`` block of a record (``results.json``, ``surveillance.json``)."""
    outputs = (record.get("protocol") or {}).get("outputs")
    return dict(outputs) if isinstance(outputs, Mapping) else {}
