"""Jinja2 filters: the only place where the reports round and format numbers.

Every filter accepts ``None`` and NaN (an undefined metric, written as ``null`` in results.json)
and shows it as :data:`MISSING` so that it is visible in the report and never crashes a render.
Negative numbers use the typographic minus sign (U+2212).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import jinja2

from validation.numbers import as_float
from validation.report.outputs import difference_symbol
from validation.units import unit_symbol

#: How an undefined value (None / NaN) is shown.
MISSING = "n/a"
MINUS = "\u2212"


def _is_missing(value: Any) -> bool:
    """None and NaN are missing (text is not: a filter shows it as written)."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _fixed(value: Any, digits: int, *, sign: bool = False) -> str:
    if _is_missing(value):
        return MISSING
    x = float(value)
    if math.isinf(x):
        return "\u221e" if x > 0 else MINUS + "\u221e"
    text = f"{abs(x):,.{digits}f}"
    if float(text.replace(",", "")) == 0.0:
        return text
    if x < 0:
        return MINUS + text
    return ("+" + text) if sign else text


def num(value: Any, digits: int = 2) -> str:
    """A number with a fixed number of decimals.

    Examples
    --------
    >>> num(-0.4149)
    '−0.41'
    >>> num(None)
    'n/a'
    """
    return _fixed(value, digits)


def measure(
    value: Any,
    unit: str = "1",
    digits: int = 2,
    *,
    sign: bool = False,
    symbol: bool = False,
    difference: bool = False,
) -> str:
    """A value of the measurement in its UCUM ``unit`` with ``digits`` decimals.

    ``symbol=True`` appends the unit's symbol (nothing for a unitless ``"1"``); with
    ``difference=True`` the value is a difference of two readings, in percentage points
    (``pp``) for a measurement in ``%``. ``sign=True`` shows a plus sign. In a template the
    unit and the decimals default to the context's ``measure`` (see :data:`FILTERS`).

    Examples
    --------
    >>> measure(0.4123, "mm", sign=True, symbol=True)
    '+0.41 mm'
    >>> measure(-5, "%", 1, symbol=True, difference=True), measure(62.0, "%", 0, symbol=True)
    ('−5.0 pp', '62 %')
    >>> measure(float("nan"))
    'n/a'
    """
    text = _fixed(value, digits, sign=sign)
    shown = difference_symbol(unit) if difference else unit_symbol(unit)
    return f"{text} {shown}" if symbol and shown and text != MISSING else text


def pct(value: Any, digits: int = 1) -> str:
    """A proportion (0..1) shown as a percentage.

    Examples
    --------
    >>> pct(0.87345)
    '87.3%'
    >>> pct(0.95, 0)
    '95%'
    """
    if _is_missing(value):
        return MISSING
    return _fixed(100.0 * float(value), digits) + "%"


def count(value: Any) -> str:
    """An integer count with a thousands separator.

    Examples
    --------
    >>> count(1234)
    '1,234'
    """
    if _is_missing(value):
        return MISSING
    return f"{int(value):,}"


#: Units of a proportion (0..1, shown as %; never a measurement's "%").
PROPORTION = ("", "proportion")
#: Units of an index or a slope (three decimals, no symbol).
INDEX = ("slope", "index")


def _formatter(unit: str, digits: int | None = None, *, sign: bool = False) -> Callable[[Any], str]:
    if unit in PROPORTION:
        return pct
    if unit in INDEX:
        return lambda x: _fixed(x, 3)
    return lambda x: _fixed(x, 2 if digits is None else digits, sign=sign)


def value(x: Any, unit: str, digits: int | None = None, *, sign: bool = False) -> str:
    """An estimate in its unit: "" (a proportion) as %, "slope" and "index" (an AUC) with 3
    decimals, any other unit (a measurement's UCUM code, "%" included) with ``digits``
    decimals (2 when not given), without its symbol (see :func:`suffix`); ``sign=True`` shows
    the plus sign of a measurement's value.

    Examples
    --------
    >>> value(0.912, "")
    '91.2%'
    >>> value(-1.234, "mm")
    '−1.23'
    >>> value(-5, "%", 1)
    '−5.0'
    """
    return _formatter(unit, digits, sign=sign)(x)


def ci(low: Any, high: Any = None, unit: str = "1", digits: int | None = None) -> str:
    """A confidence interval "low to high"; ``low`` may be a ``[low, high]`` pair.

    Examples
    --------
    >>> ci(-0.5, 1.25)
    '−0.50 to 1.25'
    >>> ci([0.81, 0.93], unit="")
    '81.0% to 93.0%'
    >>> ci(None, None)
    'n/a'
    """
    if isinstance(low, Sequence) and not isinstance(low, str):
        low, high = (low[0], low[1]) if len(low) == 2 else (None, None)
    if _is_missing(low) and _is_missing(high):
        return MISSING
    fmt = _formatter(unit, digits)
    return f"{fmt(low)} to {fmt(high)}"


def suffix(unit: str) -> str:
    """What follows a metric printed by :func:`value` in ``unit``: a space and the symbol of a
    difference of the measurement (" mm", " pp" for a measurement in "%"), nothing for a
    proportion (:func:`value` prints its "%"), an index or a unitless measurement.

    Examples
    --------
    >>> suffix("mm"), suffix("%"), suffix(""), suffix("index"), suffix("1")
    (' mm', ' pp', '', '', '')
    """
    if unit in PROPORTION or unit in INDEX or unit == "num":
        return ""
    shown = difference_symbol(unit)
    return f" {shown}" if shown else ""


def pvalue(p: Any, *, label: bool = False) -> str:
    """A p-value: three decimals, "< 0.001" below that; ``label=True`` prefixes "p = " / "p ".

    Examples
    --------
    >>> pvalue(0.0004)
    '< 0.001'
    >>> pvalue(0.04321, label=True)
    'p = 0.043'
    >>> pvalue(0.0004, label=True)
    'p < 0.001'
    """
    if _is_missing(p):
        return f"p {MISSING}" if label else MISSING
    p = float(p)
    text = "< 0.001" if p < 0.001 else f"{p:.3f}"
    if not label:
        return text
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def ratio(value: Any, digits: int = 2) -> str:
    """A likelihood ratio or slope with fixed decimals (alias of :func:`num`)."""
    return _fixed(value, digits)


def sha_short(digest: Any, length: int = 12) -> str:
    """The first ``length`` hex digits of a sha256, followed by an ellipsis.

    Examples
    --------
    >>> sha_short("0123456789abcdef" * 4)
    '0123456789ab…'
    """
    if _is_missing(digest) or not str(digest):
        return MISSING
    text = str(digest)
    return text if len(text) <= length else text[:length] + "\u2026"


def utc(stamp: Any) -> str:
    """An ISO 8601 UTC time stamp shown as "YYYY-MM-DD HH:MM:SS UTC".

    Examples
    --------
    >>> utc("2026-11-25T15:02:11Z")
    '2026-11-25 15:02:11 UTC'
    """
    if _is_missing(stamp) or not str(stamp):
        return MISSING
    text = str(stamp)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


_SUPERSCRIPT = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def prob(value: Any, digits: int = 2) -> str:
    """A small probability or level with ``digits`` significant digits; below 0.001 as a power
    of ten.

    Examples
    --------
    >>> prob(0.0002958579881656805)
    '3.0 × 10⁻⁴'
    >>> prob(0.05)
    '0.050'
    >>> prob(0.0038461538461538464)
    '0.0038'
    >>> prob(None)
    'n/a'
    """
    x = as_float(value)
    if not math.isfinite(x):
        return MISSING
    if x == 0.0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if abs(x) >= 0.001:
        decimals = max(0, digits - 1 - exponent)
        return f"{x:.{decimals}f}".replace("-", MINUS)
    mantissa = x / 10**exponent
    if round(abs(mantissa), digits - 1) >= 10.0:
        mantissa, exponent = mantissa / 10.0, exponent + 1
    text = f"{mantissa:.{digits - 1}f} \u00d7 10{str(exponent).translate(_SUPERSCRIPT)}"
    return text.replace("-", MINUS, 1) if mantissa < 0 else text


def yesno(flag: Any) -> str:
    """A boolean shown as "yes" / "no" (None as n/a)."""
    if flag is None:
        return MISSING
    return "yes" if flag else "no"


def diff(
    value: Any,
    unit: str = "1",
    digits: int | None = None,
    *,
    units: bool = True,
    sign: bool = True,
) -> str:
    """A signed difference (candidate minus released) in its unit: a proportion ("") in
    percentage points with 1 decimal, an "index" (an AUC) with 3 decimals, a measurement (its
    UCUM code) with ``digits`` decimals (2 when not given) in the symbol of a difference
    (percentage points for "%"); ``units=True`` appends the symbol; ``sign=False`` drops the
    plus sign (for a margin).

    Examples
    --------
    >>> diff(-0.0132, "")
    '−1.3 pp'
    >>> diff(0.3456, "mm")
    '+0.35 mm'
    >>> diff(5, "%", 1, sign=False), diff(12, "ms", 1), diff(0.05, "1", 3)
    ('5.0 pp', '+12.0 ms', '+0.050')
    >>> diff(0.0143, "index")
    '+0.014'
    >>> diff(0.05, "", sign=False)
    '5.0 pp'
    >>> diff(None, "")
    'n/a'
    """
    if _is_missing(value):
        return MISSING
    if unit in PROPORTION:
        return _fixed(100.0 * float(value), 1, sign=sign) + (" pp" if units else "")
    if unit in INDEX:
        return _fixed(value, 3, sign=sign)
    text = _fixed(value, 2 if digits is None else digits, sign=sign)
    return text + (suffix(unit) if units else "")


def diff_ci(low: Any, high: Any = None, unit: str = "1", digits: int | None = None) -> str:
    """A confidence interval of a difference, "low to high" with signs and the unit once.

    Examples
    --------
    >>> diff_ci(-0.0620, 0.0361, "")
    '−6.2 to +3.6 pp'
    >>> diff_ci([-0.43, -0.22], unit="mm")
    '−0.43 to −0.22 mm'
    >>> diff_ci(-1.25, 2.5, "%", 1)
    '−1.2 to +2.5 pp'
    """
    if isinstance(low, Sequence) and not isinstance(low, str):
        low, high = (low[0], low[1]) if len(low) == 2 else (None, None)
    if _is_missing(low) and _is_missing(high):
        return MISSING
    text = f"{diff(low, unit, digits, units=False)} to {diff(high, unit, digits, units=False)}"
    return text + (" pp" if unit in PROPORTION else suffix(unit))


# ---------------------------------------------------------------------------------------------
# The filters as templates call them: a measurement's unit and decimals from the context
# ---------------------------------------------------------------------------------------------


def _measure_of(context: Any) -> Any:
    """The context's ``measure`` (see :func:`validation.report.outputs.measure_context`)."""
    return context.get("measure") if context is not None else None


def _digits(context: Any, unit: str | None, digits: int | None) -> tuple[str, int | None]:
    """The unit (the measurement's when None) and decimals a filter formats a value with:
    ``digits`` when given, else the measurement's statistics' when ``unit`` is its unit."""
    m = _measure_of(context)
    if unit is None:
        unit = str(m["unit"]) if m else "1"
    if digits is None and m and unit == m["unit"]:
        digits = int(m["digits"])
    return unit, digits


@jinja2.pass_context
def _value_filter(
    context: Any, x: Any, unit: str, digits: int | None = None, *, sign: bool = False
) -> str:
    return value(x, *_digits(context, unit, digits), sign=sign)


@jinja2.pass_context
def _ci_filter(
    context: Any, low: Any, high: Any = None, unit: str | None = None, digits: int | None = None
) -> str:
    return ci(low, high, *_digits(context, unit, digits))


@jinja2.pass_context
def _diff_filter(
    context: Any,
    x: Any,
    unit: str,
    digits: int | None = None,
    *,
    units: bool = True,
    sign: bool = True,
) -> str:
    return diff(x, *_digits(context, unit, digits), units=units, sign=sign)


@jinja2.pass_context
def _diff_ci_filter(
    context: Any, low: Any, high: Any = None, unit: str | None = None, digits: int | None = None
) -> str:
    return diff_ci(low, high, *_digits(context, unit, digits))


@jinja2.pass_context
def _measure_filter(
    context: Any,
    x: Any,
    digits: int | None = None,
    *,
    sign: bool = False,
    symbol: bool = False,
    difference: bool = False,
) -> str:
    unit, places = _digits(context, None, digits)
    return measure(
        x, unit, 2 if places is None else places, sign=sign, symbol=symbol, difference=difference
    )


#: The filters of every report's Jinja2 environment. ``measure``, ``value``, ``ci``, ``diff``
#: and ``diff_ci`` read the context's ``measure`` (None without a measurement): a value in the
#: measurement's unit gets its statistics' decimals, and ``measure`` / ``ci`` without a unit
#: are in the measurement's unit.
FILTERS: dict[str, Callable[..., str]] = {
    "num": num,
    "measure": _measure_filter,
    "pct": pct,
    "count": count,
    "value": _value_filter,
    "ci": _ci_filter,
    "suffix": suffix,
    "pvalue": pvalue,
    "prob": prob,
    "ratio": ratio,
    "sha_short": sha_short,
    "utc": utc,
    "yesno": yesno,
    "diff": _diff_filter,
    "diff_ci": _diff_ci_filter,
}
