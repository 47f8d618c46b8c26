"""Shared input validation for :mod:`validation.stats`.

Every check raises a plain :class:`TypeError` or :class:`ValueError` whose message names the
argument, says what was expected and shows what came (scikit-learn style).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "check_binary_array",
    "check_choice",
    "check_confidence",
    "check_count",
    "check_finite",
    "check_labels",
    "check_numeric_array",
    "check_open_unit",
    "check_paired",
    "check_positive_finite",
    "check_real",
    "check_same_length",
    "check_successes_n",
]


_Choice = TypeVar("_Choice", bound=str)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_real(value: Any, name: str, expected: str) -> float:
    """Return ``value`` as a float if it is a real number (not a boolean); raise otherwise.

    ``expected`` completes the message ``"{name} must be {expected}"``; range checks are the
    caller's (or those of the checks below).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be {expected}; got {_show(value)} of type {type(value).__name__}."
        )
    return float(value)


def check_finite(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite real number; raise otherwise."""
    number = check_real(value, name, "a finite real number")
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite real number; got {_show(value)}.")
    return number


def check_open_unit(value: Any, name: str, example: str | None = None) -> float:
    """Return ``value`` as a float if it lies in the open interval (0, 1); raise otherwise.

    ``example`` (e.g. ``"0.95"``) is quoted in the message as a typical value.
    """
    hint = f", e.g. {example}" if example else ""
    number = check_real(value, name, f"a real number in the open interval (0, 1){hint}")
    if not (0.0 < number < 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in the open interval (0, 1){hint}; got {_show(value)}.")
    return number


def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """Return ``confidence`` as a float, or raise if it is not a number in (0, 1)."""
    return check_open_unit(confidence, name, "0.95")


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


def check_choice(value: Any, name: str, choices: Collection[_Choice]) -> _Choice:
    """Return ``value`` if it is one of ``choices``; raise otherwise.

    Typed by its choices: with the ``typing.get_args`` of a ``Literal``, it returns that
    ``Literal``.
    """
    allowed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed}; got {_show(value)}.")
    for choice in choices:
        if value == choice:
            return choice
    raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")


def check_positive_finite(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0; raise otherwise."""
    number = check_real(value, name, "a positive finite number")
    if not (math.isfinite(number) and number > 0.0):
        raise ValueError(f"{name} must be a positive finite number; got {_show(value)}.")
    return number


def check_labels(labels: Any, n: int, what: str, against: str) -> tuple[str, ...]:
    """Return ``n`` unique labels as strings; raise on a non-sequence, a wrong length or repeats.

    ``what`` names the labels (e.g. ``"site names"``), ``against`` the argument whose length
    they must have (e.g. ``"estimates"``).
    """
    if isinstance(labels, str) or not isinstance(
        labels, Sequence | np.ndarray | pd.Index | pd.Series
    ):
        raise TypeError(f"labels must be a sequence of {what}; got {type(labels).__name__}.")
    names = tuple(str(label) for label in labels)
    if len(names) != n:
        raise ValueError(
            f"labels and {against} must have the same length; got {len(names)} and {n}."
        )
    if len(set(names)) != n:
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"labels must be unique; duplicated: {duplicated}.")
    return names


def _as_array(values: ArrayLike, name: str, ndim: tuple[int, ...] = (1,)) -> NDArray[Any]:
    """``values`` as an array with one of the dimensions ``ndim`` and at least one row."""
    what = "one-dimensional" if ndim == (1,) else f"{' or '.join(map(str, ndim))}-D"
    try:
        array = np.asarray(values)
    except Exception as exc:  # ragged input and the like
        raise TypeError(f"{name} must be a {what} array-like; {exc}") from exc
    if array.ndim not in ndim:
        raise ValueError(
            f"{name} must be {what} with one row per observation; got an array with shape "
            f"{array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one observation; got an empty array.")
    return array


def check_numeric_array(
    values: ArrayLike, name: str, *, ndim: tuple[int, ...] = (1,), booleans: bool = False
) -> NDArray[np.float64]:
    """Return a float array with only finite values; raise otherwise.

    The array must have one of the dimensions ``ndim`` (1-D by default) with at least one row;
    with ``booleans``, boolean input is accepted (as 0.0 and 1.0).
    """
    array = _as_array(values, name, ndim)
    if not (booleans and array.dtype == bool) and (
        array.dtype == bool or not np.issubdtype(array.dtype, np.number)
    ):
        kinds = "real numbers or booleans" if booleans else "real numbers"
        raise TypeError(f"{name} must hold {kinds}; got an array of dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers; got complex values.")
    result = array.astype(np.float64)
    bad = ~np.isfinite(result)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
        where = f"at index {first} ({result[first]})" if result.ndim == 1 else f"in row {first}"
        raise ValueError(
            f"{name} must contain only finite values; found {int(bad.sum())} NaN or infinite "
            f"value(s), the first {where}."
        )
    return result


def check_binary_array(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    """Return a 1-D boolean array from 0/1 or bool input; raise on anything else."""
    array = _as_array(values, name)
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
    return np.equal(as_float, 1.0)


def check_same_length(a: NDArray[Any], b: NDArray[Any], name_a: str, name_b: str) -> None:
    """Raise if two 1-D arrays differ in length."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same length; got {a.shape[0]} and {b.shape[0]}."
        )


def check_paired(
    a: ArrayLike, b: ArrayLike, name_a: str, name_b: str, *, binary: bool = False
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Two 1-D arrays of paired observations of the same length: finite floats, or booleans.

    Each is checked by :func:`check_numeric_array` (or :func:`check_binary_array` with
    ``binary``), then their lengths by :func:`check_same_length`.
    """
    check = check_binary_array if binary else check_numeric_array
    first, second = check(a, name_a), check(b, name_b)
    check_same_length(first, second, name_a, name_b)
    return first, second
