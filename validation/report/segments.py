"""Surveillance segments as the report shows them: a site and a vendor, either of which may be
pooled (``*``, :data:`validation.surveillance.baseline.POOLED`).

The surveillance report's context and its figures name, key and order segments through this
module: :func:`segment_key` reads a row's ``(site, vendor)``, :func:`segment_order` lists keys
by site then vendor with the pooled ones last, and :func:`segment_label` names one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from validation.surveillance.baseline import POOLED

#: A segment: ``(site, vendor)``.
Key = tuple[str, str]


def segment_key(row: Mapping[str, Any]) -> Key:
    """The ``(site, vendor)`` of a ``surveillance.json`` row, as text."""
    return (str(row["site"]), str(row["vendor"]))


def is_pooled(key: Key) -> bool:
    """Whether a segment is pooled over sites or vendors."""
    return POOLED in key


def segment_order(keys: Iterable[Key]) -> list[Key]:
    """The distinct segments by site then vendor, the pooled ones last.

    Examples
    --------
    >>> segment_order([("*", "*"), ("s02", "GE"), ("s01", "GE"), ("s02", "GE")])
    [('s01', 'GE'), ('s02', 'GE'), ('*', '*')]
    """
    return sorted(set(keys), key=lambda k: (is_pooled(k), k[0] == POOLED, k))


def segment_label(site: Any, vendor: Any) -> str:
    """A segment's name in plain words.

    Examples
    --------
    >>> segment_label("s02", "GE"), segment_label("*", "*")
    ('s02 · GE', 'All sites and vendors')
    >>> segment_label("s02", "*"), segment_label("*", "GE")
    ('s02, all vendors', 'All sites, GE')
    """
    site, vendor = str(site), str(vendor)
    if site == POOLED and vendor == POOLED:
        return "All sites and vendors"
    if vendor == POOLED:
        return f"{site}, all vendors"
    if site == POOLED:
        return f"All sites, {vendor}"
    return f"{site} \u00b7 {vendor}"
