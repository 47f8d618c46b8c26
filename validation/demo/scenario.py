"""The post-market demo's scenario: its settings, the planted shift and its month labels.

What the workflow reads when it loads (``demo.postmarket`` of the config, checked by
:class:`PostmarketSettings` and :func:`parse_shift`; the month labels of its targets), apart from
the generator (:mod:`validation.demo.postmarket`), which needs the image synthesis: reading the
scenario imports neither NumPy's image code nor pydicom nor SciPy.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from validation.demo.profiles import TEST_PERIOD, profile_of
from validation.exceptions import ConfigError
from validation.schema import config_default

#: Keys of production studies: ``month * MONTH_STRIDE + i`` (i < studies_per_month).
MONTH_STRIDE = 10_000
MAX_MONTHS = 120
#: Months from acquisition to the arrival of an audited study's reference reading.
LABEL_LAG_PROBABILITIES: dict[int, float] = {1: 0.45, 2: 0.35, 3: 0.20}
#: Extra blooming (mm) per mm of model bias. Measured with the locked demo model
#: (models/ivsd-cnn/1.0.0): 60 paired studies per vendor, each rendered with and without extra
#: blooming of 1.0, 1.6 and 2.13 mm, moved the model's reading by 0.95-0.98 mm per mm of
#: blooming on every vendor (paired SD 0.15-0.24 mm), i.e. about 1 / 0.97.
BLOOM_MM_PER_BIAS_MM = 1.03
#: Biases the blooming can plant: up to +5 mm the reading moves by the planted bias (+3.0 and
#: +4.9 mm for 3 and 5 mm, 24 paired Philips studies); thinning the band reads less faithfully
#: (-0.93 mm for -1 mm, but only -2.3 mm for -3 mm), so negative biases stop at -1 mm.
BIAS_RANGE_MM = (-1.0, 5.0)


@dataclass(frozen=True)
class Shift:
    """A planted software upgrade: from ``month`` (1-based) on, ``site`` x ``vendor`` reads
    ``bias_mm`` too high and carries a new SoftwareVersions value."""

    site: str
    vendor: str
    month: int
    bias_mm: float

    @property
    def extra_bloom_mm(self) -> float:
        return round(self.bias_mm * BLOOM_MM_PER_BIAS_MM, 4)

    def software_version(self) -> str:
        """The upgraded SoftwareVersions value: the vendor's latest version, upgraded."""
        return f"{profile_of(self.vendor).software_versions[-1]} upgrade"

    def applies(self, site: str, vendor: str, month: int) -> bool:
        return (site, vendor) == (self.site, self.vendor) and month >= self.month


#: The workflow config's default shift (``demo.postmarket.shift``): s02 x GE, month 7, +1.5 mm.
DEFAULT_SHIFT = Shift(**config_default("demo.postmarket.shift"))


@dataclass(frozen=True)
class PostmarketSettings:
    """What the post-market generator makes (the workflow's ``demo.postmarket`` and seed).

    The defaults are the workflow config schema's (``demo.postmarket``, ``demo.seed``).
    """

    months: int = config_default("demo.postmarket.months")
    studies_per_month: int = config_default("demo.postmarket.studies_per_month")
    audit_fraction: float = config_default("demo.postmarket.audit_fraction")
    seed: int = config_default("demo.seed")
    shift: Shift | None = field(default=DEFAULT_SHIFT)

    def __post_init__(self) -> None:
        _check_int("months", self.months, 1, MAX_MONTHS)
        _check_int("studies_per_month", self.studies_per_month, 1, MONTH_STRIDE - 1)
        _check_int("seed", self.seed, 0, None)
        if not (
            isinstance(self.audit_fraction, int | float)
            and not isinstance(self.audit_fraction, bool)
            and 0.0 <= self.audit_fraction <= 1.0
        ):
            raise ConfigError(
                f"audit_fraction must be a number from 0 to 1, got {self.audit_fraction!r}"
            )
        if self.shift is not None and self.shift.month > self.months:
            raise ConfigError(
                f"shift month {self.shift.month} lies after the last of {self.months} months; "
                "give a month within the horizon or no shift"
            )


def _check_int(name: str, value: Any, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {bound}, got {value}")


def parse_shift(value: str | Mapping[str, Any] | None) -> Shift | None:
    """Read a shift from a mapping or its YAML text; missing keys come from the default shift.

    ``None``, ``false`` and the texts ``null``, ``none``, ``~`` and ``""`` mean no shift (an
    in-control history).

    Examples
    --------
    >>> parse_shift("{site: s01, vendor: Philips, month: 5, bias_mm: 2.0}")
    Shift(site='s01', vendor='Philips', month=5, bias_mm=2.0)
    >>> parse_shift({"month": 3})
    Shift(site='s02', vendor='GE', month=3, bias_mm=1.5)
    >>> parse_shift("null") is None
    True
    """
    if isinstance(value, str):
        if value.strip().lower() in {"", "null", "none", "~", "false"}:
            return None
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"shift is not a YAML mapping: {value!r} ({exc})") from None
    if value is None or value is False:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(
            "shift must be a mapping {site, vendor, month, bias_mm} or null, "
            f"got {type(value).__name__} {value!r}"
        )
    unknown = sorted(set(value) - {"site", "vendor", "month", "bias_mm"})
    if unknown:
        raise ConfigError(f"shift has unknown keys {unknown}; known: site, vendor, month, bias_mm")
    merged = {**asdict(DEFAULT_SHIFT), **value}
    site, vendor, month, bias = (merged[k] for k in ("site", "vendor", "month", "bias_mm"))
    if not isinstance(site, str) or not isinstance(vendor, str):
        raise ConfigError(f"shift site and vendor must be texts, got {site!r} and {vendor!r}")
    _check_int("shift month", month, 1, MAX_MONTHS)
    if (
        isinstance(bias, bool)
        or not isinstance(bias, int | float)
        or not (BIAS_RANGE_MM[0] <= bias <= BIAS_RANGE_MM[1])
    ):
        raise ConfigError(
            f"shift bias_mm must be a number from {BIAS_RANGE_MM[0]} to {BIAS_RANGE_MM[1]} mm, "
            f"got {bias!r}"
        )
    profile_of(vendor)  # an unknown vendor is a ConfigError
    return Shift(site=site, vendor=vendor, month=int(month), bias_mm=float(bias))


def month_label(month: int) -> str:
    """``YYYY-MM`` of post-market ``month`` (1-based): month 1 follows the test period.

    Examples
    --------
    >>> month_label(1), month_label(7), month_label(12)
    ('2026-07', '2027-01', '2027-06')
    """
    end = TEST_PERIOD[1]
    count = end.year * 12 + end.month - 1 + month  # months since year 0, zero-based
    return f"{count // 12}-{count % 12 + 1:02d}"


def month_labels(n_months: int) -> list[str]:
    """``YYYY-MM`` of post-market months 1..n.

    Examples
    --------
    >>> month_labels(3)
    ['2026-07', '2026-08', '2026-09']
    """
    return [month_label(month) for month in range(1, n_months + 1)]


def month_period(label: str) -> tuple[dt.date, dt.date]:
    """First and last day of a ``YYYY-MM`` month.

    Examples
    --------
    >>> month_period("2027-02")
    (datetime.date(2027, 2, 1), datetime.date(2027, 2, 28))
    """
    year, month = (int(part) for part in label.split("-"))
    start = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)
