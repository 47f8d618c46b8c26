"""Generate the post-market demo: monthly production batches, late labels and a planted shift.

After release the locked model reads production studies month by month. The generator writes
what a deployment would hand the surveillance stage (``mval monitor``)::

    <out>/batches/<YYYY-MM>/<site>/<vendor>/<PatientID>/IM_0001.dcm   production studies
    <out>/labels/<YYYY-MM>.csv      reference readings that ARRIVED in that month (audited subset)
    <out>/scenario.json             the settings and the planted shift (tests and README only)

Months follow the validation test period (:data:`validation.demo.generate.TEST_PERIOD` ends in
2026-06), so month 1 is 2026-07. Each site x vendor partition of the site files gets
``studies_per_month`` studies a month, each a new patient, made by
:func:`validation.demo.generate.synthesize_study` with its own cohort key (``"postmarket"``):
the production studies never coincide with the test cohort, and everything is deterministic from
the seed (UIDs are hashes of each study's key, no clock is read), so the same arguments give the
same files byte for byte. A study's key does not depend on ``months``, so a shorter run is the
start of a longer one.

Each month, ``round(audit_fraction * n)`` of its studies are drawn for audit; an audited study's
reference reading (three readers' consensus, :func:`validation.demo.population.read_reference`)
arrives 1, 2 or 3 months after acquisition (probabilities :data:`LABEL_LAG_PROBABILITIES`). Only
labels that arrive within the generated months are written, so the last months have few or none.
``scenario.json``'s ``census`` gives per month the studies acquired, how many of them were
audited, how many of those labels are still pending after the last month (``labels_pending``)
and how many labels arrived in that month (``labels_arrived``).

The planted shift (default :data:`DEFAULT_SHIFT`) is a scanner software upgrade in one segment:
from its month on, that segment's images bloom more (``bias_mm * BLOOM_MM_PER_BIAS_MM`` mm added
to the vendor's ``bloom_mm``), so the locked model reads IVSd about ``bias_mm`` too high, and the
DICOM SoftwareVersions takes a value never seen before (``"<latest version> upgrade"``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import shutil
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from validation.demo.dicom_writer import build_dataset, write_dataset
from validation.demo.generate import TEST_PERIOD, SyntheticStudy, profile_of, synthesize_study
from validation.demo.population import read_reference
from validation.demo.profiles import VENDORS
from validation.exceptions import ConfigError
from validation.schema import config_default
from validation.sites import Site
from validation.surveillance.performance import LABEL_COLUMNS

COHORT = "postmarket"
#: Seed of a separate random stream per purpose (mixed into the study's key).
_LABEL_STREAM, _AUDIT_STREAM = 7, 11
#: Keys of production studies: ``month * _MONTH_STRIDE + i`` (i < studies_per_month).
_MONTH_STRIDE = 10_000
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
        _check_int("studies_per_month", self.studies_per_month, 1, _MONTH_STRIDE - 1)
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
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
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


def production_study(
    seed: int,
    site_index: int,
    site: Site,
    vendor: str,
    month: int,
    number: int,
    *,
    shift: Shift | None = None,
) -> SyntheticStudy:
    """Study ``number`` (0-based) of post-market ``month`` (1-based) in ``site`` x ``vendor``.

    Keyed by (seed, ``"postmarket"``, site, vendor, ``month * 10000 + number``); dated within
    its month; its PatientID ``<SITE>-<VE>-<YYYYMM>-<number>`` is a new patient every time. When
    ``shift`` applies to the segment and month, the images bloom more and the header carries the
    upgraded software version; the draws (anatomy, speckle, patient) are the same as without it.
    """
    label = month_label(month)
    shifted = shift is not None and shift.applies(site.id, vendor, month)
    study = synthesize_study(
        seed,
        COHORT,
        site_index,
        site.id,
        site.name,
        vendor,
        month * _MONTH_STRIDE + number,
        period=month_period(label),
        extra_bloom_mm=shift.extra_bloom_mm if shifted else 0.0,
    )
    record = replace(
        study.record,
        patient_id=f"{site.id.upper()}-{vendor[:2].upper()}-{label.replace('-', '')}-{number:04d}",
    )
    if shifted:
        record = replace(record, software_version=shift.software_version())
    return replace(study, record=record)


def generate_postmarket(
    sites: list[Site], out: str | Path, settings: PostmarketSettings, *, jobs: int = 1
) -> dict:
    """Write the production batches, the late labels and ``scenario.json``; return the scenario.

    ``jobs`` months are written in parallel (separate processes); the files do not depend on it.

    Existing ``batches/`` and ``labels/`` folders under ``out`` are replaced; ``scenario.json``
    is written last, so it marks a complete run.

    Raises
    ------
    ConfigError
        No partitions, an unknown vendor, or a shift naming a segment the site files lack.
    """
    out = Path(out)
    segments = [(i, site, p.vendor) for i, site in enumerate(sites) for p in site.partitions]
    if not segments:
        raise ConfigError("the post-market demo needs at least one site partition")
    for _, _, vendor in segments:
        profile_of(vendor)
    shift = settings.shift
    if shift is not None and (shift.site, shift.vendor) not in {(s.id, v) for _, s, v in segments}:
        known = ", ".join(f"{s.id}/{v}" for _, s, v in segments)
        raise ConfigError(
            f"shift segment {shift.site}/{shift.vendor} is not a partition of the site files "
            f"(known: {known})"
        )
    months = month_labels(settings.months)
    for stale in (out / "batches", out / "labels"):
        if stale.exists():
            shutil.rmtree(stale)
    (out / "scenario.json").unlink(missing_ok=True)

    labels: dict[str, list[dict[str, Any]]] = {label: [] for label in months}
    census: dict[str, dict[str, int]] = {}
    tasks = [(out, sites, settings, month) for month in range(1, len(months) + 1)]
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks)))) as pool:
        done = pool.map(_write_month, tasks) if jobs > 1 else map(_write_month, tasks)
        for label, month_census, arrivals in done:
            census[label] = month_census
            for row in arrivals:
                labels[row["arrived"]].append(row)
    for label, rows in labels.items():
        _write_labels(out / "labels" / f"{label}.csv", rows)
        census[label]["labels_arrived"] = len(rows)

    scenario = {
        "generator": "validation.demo.postmarket",
        "seed": settings.seed,
        "months": months,
        "studies_per_month": settings.studies_per_month,
        "audit_fraction": settings.audit_fraction,
        "label_lag_months": {str(k): p for k, p in LABEL_LAG_PROBABILITIES.items()},
        "segments": [{"site": s.id, "vendor": v} for _, s, v in segments],
        "shift": _shift_summary(shift, months),
        "census": census,
        "totals": {
            "studies": sum(c["studies"] for c in census.values()),
            "audited": sum(c["audited"] for c in census.values()),
            "labels_arrived": sum(c["labels_arrived"] for c in census.values()),
            "labels_pending": sum(c["labels_pending"] for c in census.values()),
        },
        "layout": {
            "batches": "batches/<YYYY-MM>/<site>/<vendor>/<PatientID>/IM_0001.dcm",
            "labels": "labels/<YYYY-MM>.csv: reference readings that arrived in that month",
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.json").write_text(json.dumps(scenario, indent=2, sort_keys=True) + "\n")
    return scenario


def _write_month(
    task: tuple[Path, list[Site], PostmarketSettings, int],
) -> tuple[str, dict[str, int], list[dict[str, Any]]]:
    """Write one month's studies; return its label, census and the labels arriving in horizon.

    Every study and label is drawn from its own seeded stream, so months can be written in any
    order or in parallel with the same result.
    """
    out, sites, settings, month = task
    shift = settings.shift
    months = month_labels(settings.months)
    label = months[month - 1]
    segments = [(i, site, p.vendor) for i, site in enumerate(sites) for p in site.partitions]
    n_month = len(segments) * settings.studies_per_month
    n_audit = math.floor(settings.audit_fraction * n_month + 0.5)
    audit_rng = np.random.default_rng([settings.seed, _AUDIT_STREAM, month])
    audited = set(audit_rng.permutation(n_month)[:n_audit].tolist())
    arrived_later = 0
    rows: list[dict[str, Any]] = []
    for slot, (site_index, site, vendor, number) in enumerate(
        (i, s, v, n) for i, s, v in segments for n in range(settings.studies_per_month)
    ):
        study = production_study(
            settings.seed, site_index, site, vendor, month, number, shift=shift
        )
        folder = out / "batches" / label / site.id / vendor / study.record.patient_id
        write_dataset(build_dataset(study.record, study.frames), folder / "IM_0001.dcm")
        if slot not in audited:
            continue
        vendor_index = sorted(VENDORS).index(vendor)
        rng = np.random.default_rng(
            [settings.seed, _LABEL_STREAM, site_index, vendor_index, month, number]
        )
        reading = read_reference(study.anatomy.ivsd_mm, rng)
        lag = int(
            rng.choice(list(LABEL_LAG_PROBABILITIES), p=list(LABEL_LAG_PROBABILITIES.values()))
        )
        if month + lag > settings.months:
            arrived_later += 1
            continue
        rows.append(
            {
                "study_instance_uid": study.record.study_uid,
                "site": site.id,
                "vendor": vendor,
                "acquired": label,
                "arrived": months[month + lag - 1],
                "consensus_ivsd_mm": reading["consensus_ivsd_mm"],
                "lvh": reading["lvh"],
            }
        )
    census = {"studies": n_month, "audited": n_audit, "labels_pending": arrived_later}
    return label, census, rows


def _shift_summary(shift: Shift | None, months: list[str]) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {
        **asdict(shift),
        "onset": months[shift.month - 1],
        "extra_bloom_mm": shift.extra_bloom_mm,
        "software_versions_before": list(profile_of(shift.vendor).software_versions),
        "software_version_after": shift.software_version(),
        "mechanism": "scanner software upgrade: stronger high-gain blooming widens the bright "
        "septal band, and SoftwareVersions takes a new value",
        "expected": f"the model reads IVSd about {shift.bias_mm:g} mm too high in "
        f"{shift.site}/{shift.vendor} from {months[shift.month - 1]} on",
    }


def _write_labels(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(
        rows, key=lambda r: (r["acquired"], r["site"], r["vendor"], r["study_instance_uid"])
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
