"""Generate the post-market demo: monthly production batches, late labels and a planted shift.

After release the locked model reads production studies month by month. The generator writes
what a deployment would hand the surveillance stage (``mval monitor``)::

    <out>/batches/<YYYY-MM>/<site>/<vendor>/<PatientID>/IM_0001.dcm   production studies
    <out>/labels/<YYYY-MM>.csv      reference readings that ARRIVED in that month (audited subset)
    <out>/scenario.json             the settings and the planted shift (tests and README only)

Months follow the validation test period (:data:`validation.demo.profiles.TEST_PERIOD` ends in
2026-06), so month 1 is 2026-07. Each site x vendor partition of the site files gets
``studies_per_month`` studies a month, each a new patient, made by
:func:`validation.demo.generate.synthesize_study` with its own cohort key (``"postmarket"``):
the production studies never coincide with the test cohort, and everything is deterministic from
the seed (UIDs are hashes of each study's key, no clock is read), so the same arguments give the
same files byte for byte. A study's key does not depend on ``months``, so a shorter run is the
start of a longer one.

Each month, ``round(audit_fraction * n)`` of its studies are drawn for audit; an audited study's
reference reading (three readers' consensus, :func:`validation.demo.population.read_reference`)
arrives 1, 2 or 3 months after acquisition (probabilities
:data:`validation.demo.scenario.LABEL_LAG_PROBABILITIES`). Only labels that arrive within the
generated months are written, so the last months have few or none.
``scenario.json``'s ``census`` gives per month the studies acquired, how many of them were
audited, how many of those labels are still pending after the last month (``labels_pending``)
and how many labels arrived in that month (``labels_arrived``).

The planted shift (default :data:`validation.demo.scenario.DEFAULT_SHIFT`) is a scanner software
upgrade in one segment: from its month on, that segment's images bloom more
(``bias_mm * BLOOM_MM_PER_BIAS_MM`` mm added to the vendor's ``bloom_mm``), so the locked model
reads IVSd about ``bias_mm`` too high, and the DICOM SoftwareVersions takes a value never seen
before (``"<latest version> upgrade"``).
"""

from __future__ import annotations

import csv
import json
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from validation.demo.dicom_writer import build_dataset, write_dataset
from validation.demo.generate import SyntheticStudy, synthesize_study
from validation.demo.population import read_reference
from validation.demo.profiles import VENDORS, profile_of
from validation.demo.record import claim, seal
from validation.demo.scenario import (
    LABEL_LAG_PROBABILITIES,
    MONTH_STRIDE,
    PostmarketSettings,
    Shift,
    month_label,
    month_labels,
    month_period,
)
from validation.exceptions import ConfigError
from validation.sites import Site
from validation.surveillance.performance import LABEL_COLUMNS

COHORT = "postmarket"
GENERATOR = "validation.demo.postmarket"
#: Seed of a separate random stream per purpose (mixed into the study's key).
_LABEL_STREAM, _AUDIT_STREAM = 7, 11


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
        month * MONTH_STRIDE + number,
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

    The generator writes only under ``out`` and records every file it wrote with its sha256
    (``<out>/.mval-demo.json``, :mod:`validation.demo.record`); generating again replaces its
    own earlier files, and only while they are unchanged. ``scenario.json`` is written after
    the batches and labels, so it marks a complete run.

    Raises
    ------
    ConfigError
        No partitions, an unknown vendor, or a shift naming a segment the site files lack.
    DemoOutputError
        ``out`` holds a file the generator did not write (or wrote and that was changed since);
        nothing is written then.
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
    claim(out, generator=GENERATOR)

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
    (out / "scenario.json").write_text(json.dumps(scenario, indent=2, sort_keys=True) + "\n")
    seal(out, generator=GENERATOR, settings=_settings_record(settings, segments))
    return scenario


def _settings_record(
    settings: PostmarketSettings, segments: list[tuple[int, Site, str]]
) -> dict[str, Any]:
    return {
        "months": settings.months,
        "studies_per_month": settings.studies_per_month,
        "audit_fraction": settings.audit_fraction,
        "seed": settings.seed,
        "shift": None if settings.shift is None else asdict(settings.shift),
        "segments": [f"{site.id}/{vendor}" for _, site, vendor in segments],
    }


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
                "reference": reading["consensus_ivsd_mm"],
                "label": reading["lvh"],
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
