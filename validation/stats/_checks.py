"""Shared input validation for :mod:`validation.stats`.

Every check raises a plain :class:`TypeError` or :class:`ValueError` whose message names the
argument, says what was expected and shows what came (scikit-learn style).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "check_binary_array",
    "check_choice",
    "check_confidence",
    "check_count",
    "check_numeric_array",
    "check_positive_finite",
    "check_same_length",
    "check_successes_n",
]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """Return ``confidence`` as a float, or raise if it is not a number in (0, 1)."""
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise TypeError(
            f"{name} must be a real number in the open interval (0, 1); "
            f"got {_show(confidence)} of type {type(confidence).__name__}."
        )
    value = float(confidence)
    if not (0.0 < value < 1.0):  # also rejects NaN
        raise ValueError(
            f"{name} must be in the open interval (0, 1), e.g. 0.95; got {_show(confidence)}."
        )
    return value


def check_count(value: Any, name: str) -> int:
    """Return a non-negative integer count, or raise.

    Integers (Python or NumPy) are accepted, as are floats with an integral value (``5.0``);
    booleans, fractional values and negative counts are rejected.
    """
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a non-negative integer count; got the boolean {value}.")
    if isinstance(value, numbers.Integral):
        count = int(value)
    elif isinstance(value, numbers.Real):
        as_float = float(value)
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise ValueError(f"{name} must be a non-negative integer count; got {_show(value)}.")
        count = int(as_float)
    else:
        raise TypeError(
            f"{name} must be a non-negative integer count; "
            f"got {_show(value)} of type {type(value).__name__}."
        )
    if count < 0:
        raise ValueError(f"{name} must be a non-negative integer count; got {count}.")
    return count


def check_successes_n(successes: Any, n: Any) -> tuple[int, int]:
    """Validate a binomial count pair: ``n >= 1`` and ``0 <= successes <= n``."""
    x = check_count(successes, "successes")
    size = check_count(n, "n")
    if size < 1:
        raise ValueError(f"n must be at least 1 to estimate a proportion; got n={size}.")
    if x > size:
        raise ValueError(f"successes must not exceed n; got successes={x} and n={size}.")
    return x, size


def check_choice(value: Any, name: str, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``; raise otherwise."""
    allowed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed}; got {_show(value)}.")
    if value not in choices:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")
    return value


def check_positive_finite(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a positive finite number; "
            f"got {_show(value)} of type {type(value).__name__}."
        )
    number = float(value)
    if not (math.isfinite(number) and number > 0.0):
        raise ValueError(f"{name} must be a positive finite number; got {_show(value)}.")
    return number


def _as_1d(values: ArrayLike, name: str) -> NDArray[Any]:
    try:
        array = np.asarray(values)
    except Exception as exc:  # ragged input and the like
        raise TypeError(f"{name} must be a one-dimensional array-like; {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got an array with shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} must contain at least one observation; got an empty array.")
    return array


def check_numeric_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return a 1-D float array with only finite values; raise otherwise."""
    array = _as_1d(values, name)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold real numbers; got an array of dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers; got complex values.")
    result = array.astype(np.float64)
    bad = ~np.isfinite(result)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must contain only finite values; found {int(bad.sum())} NaN or infinite "
            f"value(s), the first at index {first} ({result[first]})."
        )
    return result


def check_binary_array(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    """Return a 1-D boolean array from 0/1 or bool input; raise on anything else."""
    array = _as_1d(values, name)
    if array.dtype == bool:
        return array.astype(bool)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise TypeError(
            f"{name} must hold binary labels (0/1 or bool); got an array of dtype {array.dtype}."
        )
    as_float = array.astype(np.float64)
    if np.isnan(as_float).any():
        raise ValueError(
            f"{name} must hold binary labels (0/1 or bool); found "
            f"{int(np.isnan(as_float).sum())} NaN value(s)."
        )
    invalid = ~np.isin(as_float, (0.0, 1.0))
    if invalid.any():
        shown = np.unique(array[invalid])[:5].tolist()
        raise ValueError(
            f"{name} must hold binary labels (0/1 or bool); found other values {shown}."
        )
    return as_float == 1.0


def check_same_length(a: NDArray[Any], b: NDArray[Any], name_a: str, name_b: str) -> None:
    """Raise if two 1-D arrays differ in length."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same length; got {a.shape[0]} and {b.shape[0]}."
        )
