"""Scale of the workflow itself: the DAG of 1,000 partitions, and one analysis of 50,000 studies.

Target (issue 8): a study with 1,000 site x vendor partitions plans (``snakemake -n``, the whole
default target) in under 20 s on 2 cores, with one job per partition (x model version), never
per image or per study; and ``mval analyze`` over 50,000 studies across those partitions runs in
bounded memory.

1. The DAG. A scratch project gets copies of the project's Snakefile, rules/, config/ (demo
   generation off), protocols/ (with the lock) and models/, and ``--partitions / 4`` generated
   site files of 4 vendors each (folder partitions). Planning needs no DICOM file: a partition's
   folder is not a declared input (ingestion scans it when it runs), only the site file, the
   protocol, its lock and the model files are. ``snakemake -n`` is timed for a baseline study
   of 12 partitions and for the large one, in child processes of this one (same machine state).
2. The analysis. Ingesting and inferring 50,000 real studies takes hours on 2 cores (and
   ``bench_scale`` already shows 50,000 studies through ingest and infer of one partition in
   bounded memory), so this writes what those per-partition jobs write, in their formats:
   each partition's ``accounting.csv`` and ``manifest.json`` (as ``mval ingest``), a predictions
   CSV per locked model version (as ``mval infer``), and each site's sealed reference file (as
   the demo), with synthetic values: the demo's patient model for the true IVSd, three readers
   and their consensus, a vendor-dependent bias plus noise for each model version, its LVH
   probability, a few excluded files per site, follow-up visits and missing readings. Then it
   runs the ``mval analyze`` command line the ``analyze`` rule runs (paths from the same
   ``validation.workflow`` functions), in a child process, and prints its wall time and peak
   RSS (``os.wait4``) for a small study and the large one.

    .venv/bin/python -m benchmarks.bench_workflow_scale --partitions 1000 --studies 50000 \
        --scratch /tmp/mval-wf-scale
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks._common import ROOT
from validation import workflow as wf
from validation.demo.generate import REFERENCE_COLUMNS
from validation.demo.population import READERS
from validation.demo.profiles import LVH_THRESHOLD_MM, VENDORS
from validation.hashing import sha256_file
from validation.ingest.scan import ACCOUNTING_COLUMNS
from validation.model.card import read_card
from validation.model.infer import PREDICTION_COLUMNS
from validation.protocol import load_protocol

#: the vendors of each generated site (the demo's four vendor profiles)
SITE_VENDORS = ("GE", "Philips", "Siemens", "Canon")
#: each model version's systematic IVSd error (mm) on each vendor's images, and its noise SD:
#: the released version overestimates on Canon (the demo's weak vendor), the candidate does not
VERSION_BIAS = {
    "1.0.0": {"GE": 0.1, "Philips": -0.1, "Siemens": 0.2, "Canon": 1.5},
    "1.1.0": {"GE": 0.1, "Philips": -0.1, "Siemens": 0.15, "Canon": 0.2},
}
NOISE_SD_MM = 0.7
EXCLUDED_PER_SITE = ("truncated", "wrong_vendor", "duplicate_sop_instance")
MISSING_REFERENCE_RATE = 0.03
QUALITY_REJECTED_RATE = 0.002
REVISIT_EVERY = 12


# -- the scratch project ------------------------------------------------------------------------


def make_project(folder: Path, n_partitions: int) -> dict[str, Any]:
    """A copy of the workflow with ``n_partitions`` generated folder partitions; its config."""
    if n_partitions % len(SITE_VENDORS):
        sys.exit(f"--partitions must be a multiple of {len(SITE_VENDORS)}")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "Snakefile", folder / "Snakefile")
    for name in ("rules", "protocols", "models", "config"):
        shutil.copytree(ROOT / name, folder / name)
    config_path = folder / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["demo"]["enabled"] = False
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / "sites").mkdir()
    n_sites = n_partitions // len(SITE_VENDORS)
    width = max(2, len(str(n_sites)))
    for number in range(1, n_sites + 1):
        site = f"s{number:0{width}d}"
        partitions = "\n".join(
            f"  - vendor: {vendor}\n    source: {{kind: folder, path: data/test/{site}/{vendor}}}"
            for vendor in SITE_VENDORS
        )
        (folder / "sites" / f"{site}.yaml").write_text(
            f"id: {site}\nname: Scale test site {number}\ncountry: Demo\n"
            f"partitions:\n{partitions}\n"
            f"reference: {{path: data/reference/{site}.csv, key: study_instance_uid}}\n"
        )
    return config


def dry_run(folder: Path) -> tuple[float, dict[str, int]]:
    """``snakemake -n`` of the default target in ``folder``: (seconds, jobs per rule)."""
    snakemake = str(Path(sys.executable).parent / "snakemake")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    start = time.perf_counter()
    done = subprocess.run(
        [snakemake, "-n", "--cores", "2"], cwd=folder, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"snakemake -n failed in {folder}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds, _job_stats(done.stdout + done.stderr)


def _job_stats(text: str) -> dict[str, int]:
    """The ``Job stats`` table of a dry run: {rule: count}."""
    stats, inside = {}, False
    for line in text.splitlines():
        if line.startswith("Job stats"):
            inside, stats = True, {}
            continue
        match = re.match(r"^(\S+)\s+(\d+)\s*$", line)
        if inside and match and match.group(1) != "total":
            stats[match.group(1)] = int(match.group(2))
        elif inside and stats and not line.strip():
            inside = False
    return stats


# -- what the per-partition jobs write ----------------------------------------------------------


def _uids(rng: np.random.Generator, n: int) -> list[str]:
    """``2.25.<int>`` UIDs, as the demo and most modalities make them."""
    high = rng.integers(1, 2**62, size=n, dtype=np.int64)
    low = rng.integers(0, 2**62, size=n, dtype=np.int64)
    return [f"2.25.{(int(a) << 62) | int(b)}" for a, b in zip(high, low, strict=True)]


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_partition_outputs(
    folder: Path, config: dict[str, Any], n_studies: int, seed: int = 8
) -> dict[str, int]:
    """Write every partition's ingest, inference and reference files; return counts."""
    cwd = Path.cwd()
    os.chdir(folder)  # the workflow functions and site files are relative to the project
    try:
        return _write_outputs(config, n_studies, seed)
    finally:
        os.chdir(cwd)


def _write_outputs(config: dict[str, Any], n_studies: int, seed: int) -> dict[str, int]:
    protocol = load_protocol(config["protocol"])
    versions = wf.model_versions(config)
    models = {}
    for version in versions:
        locked = protocol.model_version(version)
        models[version] = (read_card(locked.path).name, locked.sha256)
    sites = wf.sites(config)
    partitions = [(i, s, p) for i, s in enumerate(sites) for p in s.partitions]
    base, extra = divmod(n_studies, len(partitions))
    counts = {"received": 0, "analysable": 0}
    references: dict[str, list[dict[str, Any]]] = {s.id: [] for s in sites}
    for number, (site_index, site, partition) in enumerate(partitions):
        n = base + (1 if number < extra else 0)
        rng = np.random.default_rng([seed, site_index, SITE_VENDORS.index(partition.vendor)])
        rows = _partition_rows(rng, site.id, partition.vendor, site_index, n)
        bad = _bad_rows(rng, site.id, partition.vendor, rows, site_index, number, sites)
        accounting = [r["accounting"] for r in rows] + bad
        out = Path(wf.accounting_path(config, site.id, partition.vendor))
        _write_csv(out, ACCOUNTING_COLUMNS, accounting)
        excluded = [r for r in accounting if r["status"] == "excluded"]
        by_reason: dict[str, int] = {}
        for r in excluded:
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
        manifest = {
            "site": site.id,
            "vendor": partition.vendor,
            "source": str(partition.source_path),
            "received": len(accounting),
            "included": len(accounting) - len(excluded),
            "excluded": len(excluded),
            "excluded_by_reason": by_reason,
            "accounting_sha256": sha256_file(out),
        }
        (out.parent / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        true_ivsd = np.array([r["true_ivsd"] for r in rows])
        rejected = rng.random(len(rows)) < QUALITY_REJECTED_RATE
        for version in versions:
            name, sha = models[version]
            bias = VERSION_BIAS.get(version, VERSION_BIAS["1.0.0"])[partition.vendor]
            ivsd = true_ivsd + bias + rng.normal(0.0, NOISE_SD_MM, len(rows))
            probability = 1.0 / (1.0 + np.exp(-(ivsd - LVH_THRESHOLD_MM) / 0.6))
            predictions = []
            for r, value, p, reject in zip(rows, ivsd, probability, rejected, strict=True):
                acc = r["accounting"]
                record = {
                    "site": site.id,
                    "vendor": partition.vendor,
                    "sop_instance_uid": acc["sop_instance_uid"],
                    "study_instance_uid": acc["study_instance_uid"],
                    "model_name": name,
                    "model_version": version,
                    "model_sha256": sha,
                }
                if reject:
                    record.update(
                        file_sha256="",
                        status="quality_rejected",
                        detail="ValueError: no end-diastolic frame found",
                        measurement="",
                        probability="",
                    )
                else:
                    record.update(
                        file_sha256=r["file_sha256"],
                        status="predicted",
                        detail="",
                        measurement=f"{value:.4f}",
                        probability=f"{p:.6f}",
                    )
                predictions.append(record)
            path = Path(wf.predictions_path(config, site.id, partition.vendor, version))
            _write_csv(path, PREDICTION_COLUMNS, predictions)
        for r, reject in zip(rows, rejected, strict=True):
            if r["reference"] is not None:
                references[site.id].append(r["reference"])
                counts["analysable"] += int(not reject)
        counts["received"] += len(accounting)
    for site in sites:
        rows = sorted(references[site.id], key=lambda r: r["study_instance_uid"])
        _write_csv(site.reference_path, list(REFERENCE_COLUMNS), rows)
    return counts


def _partition_rows(
    rng: np.random.Generator, site: str, vendor: str, site_index: int, n: int
) -> list[dict[str, Any]]:
    """One included study per row: its accounting row, true IVSd, file hash and reference."""
    profile = VENDORS[vendor]
    sex = np.where(rng.random(n) < 0.52, "M", "F")
    age = np.clip(rng.normal(60.0 + (site_index % 3 - 1) * 3.0, 14.0, n), 18, 95).astype(int)
    bmi = np.clip(rng.lognormal(np.log(27.0), 0.17, n), 16.0, 50.0)
    ivsd = (
        np.where(sex == "M", 9.2, 8.3)
        + 0.025 * (age - 60)
        + 0.07 * (bmi - 27.0)
        + rng.normal(0.0, 0.9, n)
    )
    ivsd = np.clip(ivsd + (rng.random(n) < 0.28) * rng.uniform(1.5, 5.5, n), 5.5, 18.0)
    quality = rng.choice(("good", "adequate", "poor"), size=n, p=(0.55, 0.33, 0.12))
    study_uids, sop_uids = _uids(rng, n), _uids(rng, n)
    days = rng.integers(0, 173, n)
    dates = (np.datetime64("2026-01-05") + days).astype(str)
    scanners = rng.integers(len(profile.models), size=n)
    software = rng.integers(len(profile.software_versions), size=n)
    missing = rng.random(n) < MISSING_REFERENCE_RATE
    readings = np.stack([ivsd + bias + rng.normal(0.0, sd, n) for _, bias, sd in READERS], 1)
    readings = np.round(readings, 1)
    consensus = np.round(readings.mean(axis=1), 2)
    prefix = f"{site.upper()}-{vendor[:2].upper()}"
    rows = []
    for i in range(n):
        first = i - 6 if i % REVISIT_EVERY == REVISIT_EVERY - 1 else i  # a follow-up visit
        patient = f"{prefix}{first:05d}"
        folder = f"data/test/{site}/{vendor}/{patient}" + (f"/visit-{i:06d}" if first != i else "")
        accounting = {
            "site": site,
            "vendor": vendor,
            "path": f"{folder}/IM_0001.dcm",
            "sop_instance_uid": sop_uids[i],
            "study_instance_uid": study_uids[i],
            "patient_id": patient,
            "status": "included",
            "reason": "",
            "detail": "",
            "manufacturer": profile.manufacturer,
            "scanner_model": profile.models[scanners[i]],
            "software_versions": profile.software_versions[software[i]],
            "study_date": dates[i].replace("-", ""),
            "patient_age": str(age[first]),
            "patient_sex": str(sex[first]),
            "patient_bmi": f"{bmi[first]:.1f}",
            "spacing_mm": "0.4200x0.4200",
            "frames": "8",
            "file_bytes": str(186000 + int(days[i])),
        }
        reference = None
        if not missing[i]:
            reference = {
                "study_instance_uid": study_uids[i],
                **{f"{name}_ivsd_mm": readings[i, j] for j, (name, _, _) in enumerate(READERS)},
                "consensus_ivsd_mm": consensus[i],
                "lvh": int(consensus[i] >= LVH_THRESHOLD_MM),
                "image_quality": quality[i],
            }
        rows.append(
            {
                "accounting": accounting,
                "true_ivsd": float(ivsd[first]) if first != i else float(ivsd[i]),
                "file_sha256": hashlib.sha256(sop_uids[i].encode()).hexdigest(),
                "reference": reference,
            }
        )
    return rows


def _bad_rows(rng, site, vendor, rows, site_index, number, sites) -> list[dict[str, Any]]:
    """The site's excluded files (as the demo plants them), spread over its partitions."""
    vendor_index = SITE_VENDORS.index(vendor)
    bad = []
    for k, reason in enumerate(EXCLUDED_PER_SITE):
        if k % len(SITE_VENDORS) != vendor_index or not rows:
            continue
        template = dict(rows[0]["accounting"])
        detail = {
            "truncated": "pixel data needs 184832 bytes; element declares 184832, file holds "
            "100932",
            "wrong_vendor": f"Manufacturer 'Philips' is not vendor '{vendor}'",
            "duplicate_sop_instance": f"same SOP Instance UID as {template['path']}",
        }[reason]
        if reason != "duplicate_sop_instance":
            template["sop_instance_uid"], template["study_instance_uid"] = _uids(rng, 2)
            template["patient_id"] = f"{site.upper()}-{vendor[:2].upper()}9{k:04d}"
        template.update(
            path=f"data/test/{site}/{vendor}/incoming/{reason}.dcm",
            status="excluded",
            reason=reason,
            detail=detail,
        )
        bad.append(template)
    return bad


# -- the analysis ------------------------------------------------------------------------------


def analyze_command(config: dict[str, Any]) -> list[str]:
    """The ``analyze`` rule's command line (rules/validation.smk), as argv."""
    mval = str(Path(sys.executable).parent / "mval")
    candidates = []
    for version in wf.candidate_versions(config):
        candidates += ["--candidate", version, *wf.all_predictions(config, version)]
    results = wf.results_dir(config)
    return [
        mval,
        "analyze",
        "--protocol",
        config["protocol"],
        "--sites",
        config["sites"],
        "--accounting",
        *wf.all_accounting(config),
        "--predictions",
        *wf.all_predictions(config),
        *candidates,
        "--out",
        f"{results}/analysis",
        "--accounting-out",
        f"{results}/ingest/accounting.csv",
        "--audit",
        wf.audit_path(config),
    ]


def run_child(command: list[str], cwd: Path, log: Path) -> tuple[float, float]:
    """Run ``command`` in a child process: (seconds, the child's peak RSS in MiB)."""
    start = time.perf_counter()
    with log.open("w") as handle:
        child = subprocess.Popen(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{command[0]} {command[1]} failed (status {status}); see {log}")
    return seconds, usage.ru_maxrss / 1024


def analysis(folder: Path, n_partitions: int, n_studies: int) -> tuple[float, float, dict]:
    """Generate a study's partition outputs and time ``mval analyze`` over them."""
    config = make_project(folder, n_partitions)
    start = time.perf_counter()
    counts = write_partition_outputs(folder, config, n_studies)
    made = time.perf_counter() - start
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        command = analyze_command(config)
    finally:
        os.chdir(cwd)
    chars = len(" ".join(command))
    seconds, rss = run_child(command, folder, folder / "analyze.log")
    results_json = folder / wf.results_dir(config) / "analysis" / "results.json"
    results = json.loads(results_json.read_text())
    return seconds, rss, {**counts, "made_s": made, "command_chars": chars, "results": results}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--partitions", type=int, default=1000, help="site x vendor partitions")
    p.add_argument("--studies", type=int, default=50000, help="studies across them")
    p.add_argument("--base-partitions", type=int, default=12, help="baseline study's partitions")
    p.add_argument("--base-studies", type=int, default=5000, help="baseline analysis' studies")
    p.add_argument("--repeats", type=int, default=2, help="timed dry runs of each size")
    p.add_argument("--skip-dag", action="store_true", help="only the analysis")
    p.add_argument("--skip-analysis", action="store_true", help="only the dry runs")
    p.add_argument("--scratch", type=Path, help="work in this folder (kept)")
    args = p.parse_args()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="mval-wf-scale-"))

    if not args.skip_dag:
        _dags(scratch, args.base_partitions, args.partitions, args.repeats)
    if not args.skip_analysis:
        _analyses(scratch, args.partitions, args.base_studies, args.studies)


def _dags(scratch: Path, base_partitions: int, partitions: int, repeats: int) -> None:
    """Time the dry runs of the small and the large study, alternating; print the best."""
    small, large = scratch / "dag-small", scratch / "dag-large"
    make_project(small, base_partitions)
    make_project(large, partitions)
    best = {"small": float("inf"), "large": float("inf")}
    jobs: dict[str, dict[str, int]] = {}
    for _ in range(repeats):
        for name, folder in (("small", small), ("large", large)):
            seconds, jobs[name] = dry_run(folder)
            best[name] = min(best[name], seconds)
            print(f"snakemake -n, {name:5s}: {seconds:.1f} s", flush=True)
    for name, count in (("small", base_partitions), ("large", partitions)):
        print(
            f"DAG of {count} partitions: {best[name]:.1f} s (best of {repeats}), "
            f"{sum(jobs[name].values())} jobs: "
            + " ".join(f"{rule}={n}" for rule, n in sorted(jobs[name].items()))
        )
    print(
        f"ratio {partitions} / {base_partitions} partitions: {best['large'] / best['small']:.1f}x"
    )
    print(
        f"target < 20 s for {partitions} partitions: {'met' if best['large'] < 20 else 'NOT met'}"
    )


def _analyses(scratch: Path, partitions: int, base_studies: int, studies: int) -> None:
    """Time ``mval analyze`` over the small and the large study; print time and peak RSS."""
    runs = {}
    for count in (base_studies, studies):
        folder = scratch / f"analysis-{count}"
        seconds, rss, info = analysis(folder, partitions, count)
        runs[count] = (seconds, rss)
        verdict = info["results"]["overall_verdict"]
        print(
            f"mval analyze, {count} studies in {partitions} partitions "
            f"({info['received']} files received, {info['analysable']} with a reference; "
            f"made in {info['made_s']:.0f} s; command line {info['command_chars']:,} chars): "
            f"{seconds:.1f} s, peak RSS {rss:.0f} MiB, verdict {verdict}",
            flush=True,
        )
    (s0, m0), (s1, m1) = runs[base_studies], runs[studies]
    per_study = (m1 - m0) * 1024 * 1024 / max(studies - base_studies, 1)
    print(
        f"analysis ratio {studies} / {base_studies} studies: time {s1 / s0:.2f}x, "
        f"peak RSS {m1 / m0:.2f}x ({per_study / 1024:.1f} kB per added study)"
    )


if __name__ == "__main__":
    main()
