"""Input checks shared by the analysis functions that take a study table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd


def require_columns(frame: Any, columns: Iterable[str], name: str) -> pd.DataFrame:
    """``frame`` itself, once it is a DataFrame holding every one of ``columns``.

    Parameters
    ----------
    frame : Any
        The argument to check.
    columns : iterable of str
        The columns it must have.
    name : str
        The argument's name, for the message.

    Returns
    -------
    DataFrame
        ``frame``, unchanged.

    Raises
    ------
    TypeError
        When ``frame`` is not a DataFrame.
    ValueError
        When columns are missing: the message names them and the columns ``frame`` has.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"site": ["s01"]}), ["site", "vendor"], "studies")
    Traceback (most recent call last):
    ...
    ValueError: studies lacks required column(s) vendor; it has site.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame; got {type(frame).__name__}.")
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(
            f"{name} lacks required column(s) {', '.join(absent)}; "
            f"it has {', '.join(map(str, frame.columns)) or 'no columns'}."
        )
    return frame
