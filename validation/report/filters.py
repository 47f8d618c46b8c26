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

from validation.numbers import as_float

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


def mm(value: Any, digits: int = 2, *, sign: bool = False, unit: bool = False) -> str:
    """A length in millimetres (``unit=True`` appends " mm", ``sign=True`` shows a plus sign).

    Examples
    --------
    >>> mm(0.4123, sign=True, unit=True)
    '+0.41 mm'
    >>> mm(float("nan"))
    'n/a'
    """
    text = _fixed(value, digits, sign=sign)
    return f"{text} mm" if unit and text != MISSING else text


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


def _formatter(unit: str) -> Callable[[Any], str]:
    if unit == "mm":
        return mm
    if unit in ("", "proportion", "%"):
        return pct
    if unit in ("slope", "index"):
        return lambda x: _fixed(x, 3)
    return num


def value(x: Any, unit: str) -> str:
    """An estimate in its unit: "mm" in millimetres, "" (a proportion) as %, "slope" and
    "index" (an AUC) with 3 decimals.

    Examples
    --------
    >>> value(0.912, "")
    '91.2%'
    >>> value(-1.234, "mm")
    '−1.23'
    """
    return _formatter(unit)(x)


def ci(low: Any, high: Any = None, unit: str = "mm") -> str:
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
    fmt = _formatter(unit)
    return f"{fmt(low)} to {fmt(high)}"


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


def diff(value: Any, unit: str = "mm", *, units: bool = True, sign: bool = True) -> str:
    """A signed difference (candidate minus released) in its unit: millimetres with 2 decimals,
    a proportion ("") in percentage points with 1 decimal, an "index" (an AUC) with 3 decimals;
    ``units=True`` appends " mm" or " pp"; ``sign=False`` drops the plus sign (for a margin).

    Examples
    --------
    >>> diff(-0.0132, "")
    '−1.3 pp'
    >>> diff(0.3456, "mm")
    '+0.35 mm'
    >>> diff(0.0143, "index")
    '+0.014'
    >>> diff(0.05, "", sign=False)
    '5.0 pp'
    >>> diff(None, "")
    'n/a'
    """
    if _is_missing(value):
        return MISSING
    if unit == "mm":
        return _fixed(value, 2, sign=sign) + (" mm" if units else "")
    if unit in ("", "proportion", "%"):
        return _fixed(100.0 * float(value), 1, sign=sign) + (" pp" if units else "")
    return _fixed(value, 3, sign=sign)


def diff_ci(low: Any, high: Any = None, unit: str = "mm") -> str:
    """A confidence interval of a difference, "low to high" with signs and the unit once.

    Examples
    --------
    >>> diff_ci(-0.0620, 0.0361, "")
    '−6.2 to +3.6 pp'
    >>> diff_ci([-0.43, -0.22], unit="mm")
    '−0.43 to −0.22 mm'
    """
    if isinstance(low, Sequence) and not isinstance(low, str):
        low, high = (low[0], low[1]) if len(low) == 2 else (None, None)
    if _is_missing(low) and _is_missing(high):
        return MISSING
    text = f"{diff(low, unit, units=False)} to {diff(high, unit, units=False)}"
    suffix = {"mm": " mm", "": " pp", "proportion": " pp", "%": " pp"}.get(unit, "")
    return text + suffix


FILTERS: dict[str, Callable[..., str]] = {
    "num": num,
    "mm": mm,
    "pct": pct,
    "count": count,
    "value": value,
    "ci": ci,
    "pvalue": pvalue,
    "prob": prob,
    "ratio": ratio,
    "sha_short": sha_short,
    "utc": utc,
    "yesno": yesno,
    "diff": diff,
    "diff_ci": diff_ci,
}
