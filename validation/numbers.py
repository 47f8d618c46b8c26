"""Numbers crossing a boundary: one rule for missing, NaN and infinite values.

Every stage that writes JSON (``results.json``, ``surveillance.json``, ``alerts.json``) turns NaN
and infinities into ``null`` with :func:`json_ready`; every reader that takes a number out of such
a document uses :func:`as_float` (a float, NaN when missing), :func:`finite_or_none` (a finite
float or None) or :func:`number_or_none` (None when missing or NaN, infinities kept: a likelihood
ratio can be infinite). Booleans and text are never numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def as_float(value: Any) -> float:
    """``value`` as a float; NaN when it is missing (None), a boolean or not a number.

    Examples
    --------
    >>> as_float("1.5"), as_float(None), as_float(True), as_float(float("inf"))
    (1.5, nan, nan, inf)
    """
    if value is None or isinstance(value, bool | np.bool_):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def number_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when missing or NaN; infinities are kept.

    Examples
    --------
    >>> number_or_none(2), number_or_none(float("nan")), number_or_none(float("-inf"))
    (2.0, None, -inf)
    """
    x = as_float(value)
    return None if math.isnan(x) else x


def finite_or_none(value: Any) -> float | None:
    """``value`` as a finite float, or None when missing, NaN or infinite.

    Examples
    --------
    >>> finite_or_none(0.25), finite_or_none(float("inf")), finite_or_none("n/a")
    (0.25, None, None)
    """
    x = as_float(value)
    return x if math.isfinite(x) else None


def json_ready(value: Any) -> Any:
    """A copy of ``value`` that :func:`json.dumps` writes as standard JSON.

    Mappings get string keys, tuples become lists, numpy scalars and arrays become Python
    values, and NaN and infinities become None (``null``): JSON has no NaN, and an undefined
    estimate must stay visible as ``null`` rather than vanish.

    Examples
    --------
    >>> json_ready({"a": np.float64("nan"), 1: (np.int64(2), np.bool_(True), float("inf"))})
    {'a': None, '1': [2, True, None]}
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
