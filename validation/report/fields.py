"""Reading optional blocks of a checked document: a block that is absent (or, in a free-form
model card, not a mapping) reads as empty, so that a section says "not available" instead of
failing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from validation.numbers import number_or_none


def block(parent: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    """``parent[key]`` when it is a mapping, else an empty mapping.

    Examples
    --------
    >>> block({"a": {"b": 1}, "c": [1]}, "a"), block({"c": [1]}, "c"), block(None, "a")
    ({'b': 1}, {}, {})
    """
    value = (parent or {}).get(key)
    return value if isinstance(value, Mapping) else {}


def entries(parent: Mapping[str, Any] | None, key: str) -> list[Mapping[str, Any]]:
    """The mappings of the list ``parent[key]``; an absent key or a non-list reads as empty.

    Examples
    --------
    >>> entries({"a": [{"b": 1}, "x"]}, "a"), entries({"a": {"b": 1}}, "a"), entries(None, "a")
    ([{'b': 1}], [], [])
    """
    value = (parent or {}).get(key)
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def pair(value: Any) -> list[float | None] | None:
    """A ``[low, high]`` interval as numbers, or None when absent or wholly undefined.

    Examples
    --------
    >>> pair([0.5, None]), pair([None, None]), pair("x")
    ([0.5, None], None, None)
    """
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return None
    out = [number_or_none(value[0]), number_or_none(value[1])]
    return None if out == [None, None] else out
