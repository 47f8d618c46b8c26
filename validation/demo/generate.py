"""Generate the demo study: DICOM partitions per site × vendor and sealed reference files.

Everything is deterministic from ``seed``: each study draws from its own random stream, keyed by
(seed, cohort, site, vendor, index), so a study does not change when the cohort grows, and studies
are written one at a time (50,000 of them never sit in memory together).

Planted effects, which the analysis must find (see ``PLANTED_EFFECTS``):

* the weak vendor (Canon Aplio i900) shows high-gain blooming, which makes the released model
  (1.0.0, trained without Canon images) overestimate IVSd by about 1.5 mm on it; the candidate
  1.1.0, retrained with Canon studies from the development sites, does not;
* at every site, seven bad files spread over its partitions: a truncated file, a non-DICOM file,
  a CT image sent by mistake, a study from another vendor's scanner, a study with identifying
  headers left in, a study without physical spacing, and a second copy of an included study;
* about 3 % of studies (at least one per site) have no reference reading.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.uid import CTImageStorage

from validation.demo.dicom_writer import StudyRecord, build_dataset, demo_uid, write_dataset
from validation.demo.imaging import Anatomy, render_cine, sample_anatomy
from validation.demo.population import Patient, read_reference, sample_patient
from validation.demo.profiles import (
    DEVELOPMENT_SITES,
    TEST_PERIOD,
    VENDORS,
    WEAK_VENDOR,
)
from validation.demo.record import claim, seal
from validation.exceptions import ConfigError, DemoOutputError
from validation.sites import Site

PLANTED_EFFECTS = {
    "weak_vendor": {
        "vendor": WEAK_VENDOR,
        "mechanism": "high-gain blooming widens the bright septal band by about 1.6 mm; the "
        "development cohort of the released model (1.0.0) has no images from this vendor",
        "expected": "the released model overestimates IVSd on this vendor by about 1.5 mm; the "
        "candidate 1.1.0 (retrained with development-site Canon studies) does not",
    },
    "bad_files_per_site": [
        "truncated",
        "not_dicom",
        "wrong_sop_class",
        "wrong_vendor",
        "identifying_headers",
        "no_spacing",
        "duplicate_sop_instance",
    ],
    "missing_reference_rate": 0.03,
    "follow_up_visits": "one study in 12 is a second visit of a patient seen earlier in the "
    "same partition (same PatientID), so studies are clustered within patients",
}
MISSING_REFERENCE_RATE = 0.03
REVISIT_EVERY = 12
REFERENCE_COLUMNS = (
    "study_instance_uid",
    "reader_1_ivsd_mm",
    "reader_2_ivsd_mm",
    "reader_3_ivsd_mm",
    "consensus_ivsd_mm",
    "lvh",
    "image_quality",
)


@dataclass(frozen=True)
class SyntheticStudy:
    """One generated study before it is written."""

    record: StudyRecord
    anatomy: Anatomy
    frames: np.ndarray

    @property
    def patient(self) -> Patient:
        return self.record.patient


def synthesize_study(
    seed: int,
    cohort: str,
    site_index: int,
    site_id: str,
    institution: str,
    vendor: str,
    index: int,
    *,
    revisit_of: int | None = None,
    period: tuple[dt.date, dt.date] | None = None,
    extra_bloom_mm: float = 0.0,
) -> SyntheticStudy:
    """Make one study of ``vendor`` at a site, deterministic from its key.

    With ``revisit_of`` the study is a second visit of the patient first seen in study
    ``revisit_of`` of the same partition: same patient and septum, a new acquisition (its own
    image quality, speckle and caliper readings). ``period`` (first and last day) replaces the
    cohort's acquisition period, and ``extra_bloom_mm`` adds blooming to the vendor's own (the
    post-market demo's planted shift); neither changes the random draws, so a study keyed
    alike is otherwise the same.
    """
    profile = VENDORS[vendor]
    if extra_bloom_mm:
        profile = replace(profile, bloom_mm=profile.bloom_mm + extra_bloom_mm)
    vendor_index = sorted(VENDORS).index(vendor)
    rng = np.random.default_rng([seed, _COHORTS[cohort], site_index, vendor_index, index])
    age_shift = (site_index % 3 - 1) * 3.0
    patient = sample_patient(rng, age_shift=age_shift)
    if revisit_of is not None:
        first = np.random.default_rng(
            [seed, _COHORTS[cohort], site_index, vendor_index, revisit_of]
        )
        patient = replace(sample_patient(first, age_shift=age_shift), quality=patient.quality)
    anatomy = sample_anatomy(
        patient.ivsd_mm, profile.n_frames, patient.quality, rng, age=patient.age
    )
    frames = render_cine(anatomy, profile, rng)
    start, end = (
        (dt.date(2023, 3, 1), dt.date(2025, 6, 30)) if cohort == "development" else TEST_PERIOD
    )
    if period is not None:
        start, end = period
    study_date = start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))
    patient_number = index if revisit_of is None else revisit_of
    patient_id = f"{site_id.upper()}-{vendor[:2].upper()}{patient_number:05d}"
    key = (seed, cohort, site_id, vendor, index)
    record = StudyRecord(
        patient_id=patient_id,
        study_uid=demo_uid("study", *key),
        series_uid=demo_uid("series", *key),
        sop_uid=demo_uid("sop", *key),
        study_date=study_date,
        vendor=profile,
        scanner_model=profile.models[int(rng.integers(len(profile.models)))],
        software_version=profile.software_versions[
            int(rng.integers(len(profile.software_versions)))
        ],
        device_serial=f"{vendor[:2].upper()}{site_index:02d}{int(rng.integers(100, 999))}",
        patient=patient,
        institution=institution,
    )
    return SyntheticStudy(record=record, anatomy=anatomy, frames=frames)


_COHORTS = {"development": 1, "test": 2, "postmarket": 3}


def studies_per_partition(n_studies: int, n_partitions: int) -> list[int]:
    """Split ``n_studies`` as evenly as possible over ``n_partitions``."""
    if n_partitions < 1:
        raise ConfigError("the demo needs at least one partition")
    base, extra = divmod(n_studies, n_partitions)
    return [base + (1 if i < extra else 0) for i in range(n_partitions)]


GENERATOR = "validation.demo.generate"


def partition_folder(out: str | Path, site: str, vendor: str) -> Path:
    """Where the demo writes a partition's studies: ``<out>/test/<site>/<vendor>``."""
    return Path(out) / "test" / site / vendor


def reference_file(out: str | Path, site: str) -> Path:
    """Where the demo writes a site's sealed reference file: ``<out>/reference/<site>.csv``."""
    return Path(out) / "reference" / f"{site}.csv"


def check_sites_read_the_demo(sites: list[Site], out: str | Path) -> None:
    """Refuse site files whose folder partitions or reference files are not the demo's own.

    The demo decides where its data go (:func:`partition_folder`, :func:`reference_file` under
    ``out``), never from the site files: a site file that reads elsewhere (a hospital's folder,
    another study's reference file) is not a demo site, and the demo writes nothing for it.

    Raises
    ------
    DemoOutputError
        Naming each site, partition or reference path and where the demo would write it.
    """
    wrong = []
    for site in sites:
        for partition in site.partitions:
            if partition.source_kind != "folder" or partition.source_path is None:
                continue
            expected = partition_folder(out, site.id, partition.vendor)
            if _resolved(partition.source_path) != _resolved(expected):
                wrong.append(
                    f"site {site.id} partition {partition.vendor} reads {partition.source_path}, "
                    f"not {expected}"
                )
        expected = reference_file(out, site.id)
        if _resolved(site.reference_path) != _resolved(expected):
            wrong.append(f"site {site.id} reference is {site.reference_path}, not {expected}")
    if wrong:
        raise DemoOutputError(
            str(out),
            "the demo writes only its own folder, and these site files read data elsewhere: "
            + "; ".join(wrong[:8])
            + (f" and {len(wrong) - 8} more" if len(wrong) > 8 else "")
            + ". Give the demo its own site files (as sites/*.yaml), or, for a study of your "
            "own, leave the demo off (demo.enabled: false, the default)",
        )


def _resolved(path: Path) -> Path:
    return Path(os.path.abspath(path))


def generate_test_cohort(sites: list[Site], *, n_studies: int, seed: int, out: Path) -> dict:
    """Write every site's partitions and sealed reference file under ``out``; return a summary.

    The demo writes only under ``out``: each folder partition to
    ``<out>/test/<site>/<vendor>``, each reference file to ``<out>/reference/<site>.csv``, the
    summary to ``<out>/demo-summary.json``, and the record of every file it wrote with its
    sha256 to ``<out>/.mval-demo.json`` (:mod:`validation.demo.record`). The site files give the
    sites, names and vendors; they must read exactly these paths (as the repository's
    ``sites/*.yaml`` do), so the workflow reads what the demo writes.

    Generating again replaces the demo's own earlier files, and only while they are unchanged;
    the same arguments give the same files and record byte for byte.

    Raises
    ------
    DemoOutputError
        A site file reading data outside the demo's layout, or ``out`` holding a file the demo
        did not write (or wrote and that was changed since); nothing is written then.
    ConfigError
        Fewer than 4 studies per folder partition.
    """
    out = Path(out)
    # the demo writes folder partitions; a DICOMweb partition's data live on its server
    partitions = [
        (i, site, p)
        for i, site in enumerate(sites)
        for p in site.partitions
        if p.source_kind == "folder"
    ]
    if n_studies < 4 * len(partitions):
        raise ConfigError(
            f"demo n_studies must be at least 4 per folder partition "
            f"({4 * len(partitions)} here), got {n_studies}"
        )
    check_sites_read_the_demo(sites, out)
    claim(out, generator=GENERATOR)
    counts = studies_per_partition(n_studies, len(partitions))
    summary: dict = {"seed": seed, "n_studies": n_studies, "sites": {}, "planted": PLANTED_EFFECTS}
    references: dict[str, list[dict]] = {site.id: [] for site in sites}
    for (site_index, site, partition), count in zip(partitions, counts, strict=True):
        folder = partition_folder(out, site.id, partition.vendor)
        for index in range(count):
            study = synthesize_study(
                seed,
                "test",
                site_index,
                site.id,
                site.name,
                partition.vendor,
                index,
                revisit_of=revisit_of(index),
            )
            write_dataset(build_dataset(study.record, study.frames), _study_path(folder, study))
            rng = np.random.default_rng([seed, 7, site_index, index, len(partition.vendor)])
            forced_missing = partition is site.partitions[0] and index == 1
            if forced_missing or rng.random() < MISSING_REFERENCE_RATE:
                continue
            references[site.id].append(
                {
                    "study_instance_uid": study.record.study_uid,
                    **read_reference(study.anatomy.ivsd_mm, rng),
                    "image_quality": study.anatomy.quality,
                }
            )
    for site_index, site in enumerate(sites):
        summary["sites"][site.id] = _plant_bad_files(site, site_index, seed, out)
        _write_reference(reference_file(out, site.id), references[site.id])
        summary["sites"][site.id]["reference_rows"] = len(references[site.id])
    (out / "demo-summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    settings = {
        "n_studies": n_studies,
        "seed": seed,
        "sites": {site.id: [p.vendor for p in site.partitions] for site in sites},
    }
    seal(out, generator=GENERATOR, settings=settings)
    return summary


def revisit_of(index: int) -> int | None:
    """The first study of the patient whom study ``index`` revisits, or None (a new patient).

    One study in twelve (about 8%) is a follow-up of a patient seen earlier in the same
    partition, so the analysis must treat studies as clustered within patients.
    """
    return index - 6 if index % REVISIT_EVERY == REVISIT_EVERY - 1 else None


def _study_path(partition_dir: Path, study: SyntheticStudy) -> Path:
    folder = partition_dir / study.record.patient_id
    if folder.exists():  # a follow-up visit of a patient already written
        folder = folder / f"visit-{study.record.study_uid[-6:]}"
    return folder / "IM_0001.dcm"


def _write_reference(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["study_instance_uid"])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=REFERENCE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _plant_bad_files(site: Site, site_index: int, seed: int, out: Path) -> dict:
    """Drop the seven kinds of bad file into the site's partitions (round robin); return
    their paths relative to ``out``."""
    planted: dict[str, str] = {}
    parts = [p for p in site.partitions if p.source_kind == "folder"]
    if not parts:
        return {"bad_files": planted}
    other_vendor = {p.vendor: next(v for v in VENDORS if v != p.vendor) for p in parts}

    def extra(vendor: str, index: int) -> SyntheticStudy:
        return synthesize_study(
            seed, "test", site_index, site.id, site.name, vendor, 90_000 + index
        )

    for k, kind in enumerate(PLANTED_EFFECTS["bad_files_per_site"]):
        partition = parts[k % len(parts)]
        partition_dir = partition_folder(out, site.id, partition.vendor)
        folder = partition_dir / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{kind}.dcm"
        if kind == "truncated":
            study = extra(partition.vendor, k)
            write_dataset(build_dataset(study.record, study.frames), path)
            data = path.read_bytes()
            path.write_bytes(data[: int(len(data) * 0.55)])
        elif kind == "not_dicom":
            path = folder / "export-log.txt"
            path.write_text("Export finished 2026-03-02 14:11, 52 objects, 0 errors\n")
        elif kind == "wrong_sop_class":
            study = extra(partition.vendor, k)
            ds = build_dataset(study.record, study.frames[:1])
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
            ds.Modality = "CT"
            del ds.SequenceOfUltrasoundRegions
            write_dataset(ds, path)
        elif kind == "wrong_vendor":
            study = extra(other_vendor[partition.vendor], k)
            write_dataset(build_dataset(study.record, study.frames), path)
        elif kind == "identifying_headers":
            study = extra(partition.vendor, k)
            ds = build_dataset(study.record, study.frames)
            ds.PatientName = "HARTMANN^ELSE^M"
            ds.PatientBirthDate = "19580312"
            ds.PatientAddress = "12 Harbour Road, Demotown"
            ds.OtherPatientIDs = "MRN-448812"
            ds.PatientIdentityRemoved = "NO"
            del ds.DeidentificationMethodCodeSequence
            del ds.DeidentificationMethod
            write_dataset(ds, path)
        elif kind == "no_spacing":
            study = extra(partition.vendor, k)
            ds = build_dataset(study.record, study.frames)
            del ds.SequenceOfUltrasoundRegions
            write_dataset(ds, path)
        elif kind == "duplicate_sop_instance":
            original = next(iter(sorted(partition_dir.glob("*/IM_0001.dcm"))))
            shutil.copyfile(original, path)
        planted[kind] = path.relative_to(out).as_posix()  # where the project lives aside
    return {"bad_files": planted}


def development_studies(
    n_studies: int, *, seed: int, vendors: tuple[str, ...] | None = None
) -> Iterator[SyntheticStudy]:
    """Yield the development cohort (its own sites, never the test sites) one study at a time."""
    slots = [
        (i, site, vendor)
        for i, site in enumerate(DEVELOPMENT_SITES)
        for vendor in site.vendors
        if vendors is None or vendor in vendors
    ]
    for index in range(n_studies):
        site_index, site, vendor = slots[index % len(slots)]
        yield synthesize_study(seed, "development", site_index, site.id, site.name, vendor, index)
