"""End to end: the Snakemake workflow on a tiny demo study, as a user runs it.

The dry runs and the lint use a fresh copy of the project; the end-to-end checks read the
session's tiny run (``tiny_run`` in ``tests/conftest.py``), and a test that changes files works on
its own copy of that run (``tiny_run_copy``), so every test runs alone or in any order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pypdf
import pytest

from tests.project import BIN, N_PARTITIONS, N_VERSIONS, TINY, copy_project, mval, run, snakemake
from validation.hashing import sha256_file

#: The notice on the title page of a report from a run without a valid lock.
DRAFT_NOTICE = "DRAFT: not valid as submission evidence"


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory) -> Path:
    """A copy of the project's workflow files in a fresh folder (for dry runs: nothing runs)."""
    return copy_project(repo_root, tmp_path_factory.mktemp("project"))


def test_dry_run_has_one_ingest_per_partition_and_one_infer_per_partition_and_version(project):
    out = snakemake(project, "-n", "--cores", "2", *TINY).stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", out, flags=re.MULTILINE))
    assert int(counts["ingest"]) == N_PARTITIONS  # shared by both model versions
    assert int(counts["infer"]) == N_VERSIONS * N_PARTITIONS  # released 1.0.0, candidate 1.1.0
    assert int(counts["demo"]) == 1 and int(counts["analyze"]) == 1
    assert int(counts["report"]) == 2  # 510(k) and De Novo


def test_every_job_declares_memory_and_runtime(project):
    """Any Snakemake executor (local, Slurm) can place every job: memory and runtime declared."""
    out = snakemake(project, "all", "surveillance", "-n", "-F", "--cores", "2", *TINY).stdout
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(.*?)^\s*resources: (.*?)$", out, re.M | re.S)
    rules = {name for name, _, _ in jobs}
    assert {"ingest", "infer", "analyze", "report", "monitor_batch", "surveillance"} <= rules
    for name, _, resources in jobs:
        if name == "all":  # the target rule runs nothing
            continue
        assert re.search(r"\bmem_mb=\d+", resources), (name, resources)
        assert re.search(r"\bruntime=\d+", resources), (name, resources)


def test_loading_the_workflow_imports_neither_torch_nor_scipy(project):
    """Snakemake loads the workflow for every run and, on a cluster, twice in every job: what
    the Snakefile reads (config, sites, model cards, lock path, post-market scenario) must not
    pull in torch or SciPy (seconds each time)."""
    python = str(BIN / "python")
    result = run(
        project, python, "-X", "importtime", "-m", "snakemake", "-n", "--cores", "2", *TINY
    )
    imported = set(re.findall(r"^import time:.*\|\s+(\S+)$", result.stderr, flags=re.M))
    assert "snakemake.workflow" in imported and "validation.workflow" in imported
    heavy = sorted(m for m in imported if m.split(".")[0] in {"torch", "scipy"})
    assert not heavy, heavy[:10]


def test_lint_is_clean(project):
    result = snakemake(project, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.e2e
def test_workflow_end_to_end(tiny_run):
    project = tiny_run
    results_dir = project / "results" / "demo"
    results = json.loads((results_dir / "analysis" / "results.json").read_text())

    # the model that ran is the model on disk, and the protocol is the one in the repo
    card_weights = project / "models" / "ivsd-cnn" / "1.0.0" / "model.pt"
    assert results["model"]["sha256"] == sha256_file(card_weights)
    assert results["protocol"]["sha256"] == sha256_file(project / "protocols" / "demo.yaml")

    # every file received is accounted for; counts add up
    accounting = pd.read_csv(
        results_dir / "ingest" / "accounting.csv", dtype=str, keep_default_na=False
    )
    received = sum(1 for f in (project / "data" / "demo" / "test").rglob("*") if f.is_file())
    flow = results["flow"]
    assert len(accounting) == received == flow["received"]
    assert flow["received"] == (
        flow["excluded_at_ingest"]
        + flow["quality_rejected"]
        + flow["no_reference"]
        + flow["analysed"]
    )
    assert flow["no_reference"] >= 4  # at least one per site is planted
    assert sum(flow["excluded_by_reason"].values()) == flow["excluded_at_ingest"] == 28

    # endpoints judged on their CI bound, with intervals
    for endpoint in results["endpoints"]:
        assert endpoint["ci_low"] <= endpoint["estimate"] <= endpoint["ci_high"]
        if endpoint["primary"]:
            assert endpoint["verdict"] in {"PASS", "FAIL"}
            assert (endpoint["verdict"] == "PASS") == (endpoint["p_value"] <= 0.025)
        else:  # secondary endpoints wait for the primary family, which fails on Canon
            assert endpoint["verdict"] == "NOT TESTED" and endpoint["tested"] is False
    assert results["multiplicity"]["gate_open"] is False
    # the study's other evidence is there, from the stats package
    assert results["heterogeneity"]["metrics"]["bias"]["k"] == 4
    assert {r["form"] for r in results["reference_standard_quality"]["icc"]} >= {"ICC(2,1)"}
    assert results["method_comparison"]["deming"]["slope_ci"][0] < 1.1

    # the planted weak vendor stands out
    bias = {
        r["stratum"]: r["estimate"]
        for r in results["strata"]
        if r["dimension"] == "vendor" and r["metric"] == "bias"
    }
    assert bias["Canon"] > 1.0
    assert all(abs(v) < 0.6 for k, v in bias.items() if k != "Canon")

    # both evidence reports, archival, with the results and the manifest inside
    for kind in ("510k", "de-novo"):
        pdf = results_dir / "report" / f"{kind}.pdf"
        assert (results_dir / "report" / f"{kind}.html").exists()
        reader = pypdf.PdfReader(str(pdf))
        assert 'pdfaid:part="3"' in reader.xmp_metadata.stream.get_data().decode()
        attached = reader.attachments
        assert (
            attached["results.json"][0] == (results_dir / "analysis" / "results.json").read_bytes()
        )
        assert (
            attached["manifest.json"][0]
            == (results_dir / "analysis" / "manifest.json").read_bytes()
        )
        text = "".join(page.extract_text() or "" for page in reader.pages)
        assert DRAFT_NOTICE not in (results_dir / "report" / f"{kind}.html").read_text()
        for section in (
            "Executive summary",
            "Data independence",
            "Quality-gate analysis",
            "STARD 2015 and CLAIM checklist",
            "Environment record",
            "Model version comparison (modification protocol)",
        ):
            assert section in text, (kind, section)

    assert results["lock"]["valid"] is True
    assert results["lock"]["locked_utc"] < results["lock"]["unblinded_utc"]

    # both locked versions ran on every partition; the candidate is compared on the same studies
    for version in ("1.0.0", "1.1.0"):
        assert len(list((results_dir / "predictions" / version).rglob("*.csv"))) == N_PARTITIONS
    assert (results_dir / "analysis" / "versions" / "1.1.0" / "analysed.csv").is_file()
    comparison = results["comparison"]["results"][0]
    assert comparison["version"] == "1.1.0"
    assert comparison["pairing"]["paired"] == flow["analysed"]
    assert comparison["pairing"]["released_only"] == comparison["pairing"]["candidate_only"] == 0
    canon = next(
        r
        for r in comparison["rows"]
        if r["endpoint"] == "ivsd-bias" and r["dimension"] == "vendor" and r["stratum"] == "Canon"
    )
    assert canon["released"] > 1.0 and abs(canon["candidate_estimate"]) < 0.6
    assert canon["ci_high"] < 0  # the absolute bias on Canon falls, beyond chance
    assert comparison["verdict"] in {"PASS", "FAIL"} and comparison["conclusion"]
    candidate_sha = results["versions"]["analyses"]["1.1.0"]["sha256"]
    assert candidate_sha == sha256_file(project / "models" / "ivsd-cnn" / "1.1.0" / "model.pt")

    # a second run has nothing to do
    again = snakemake(project, "-n", "--cores", "2", *TINY)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.e2e
def test_audit_trail_of_the_run_verifies(tiny_run):
    audit = tiny_run / "results" / "demo" / "audit.jsonl"
    assert "chain intact" in mval(tiny_run, "audit", "verify", str(audit)).stdout
    stages = [json.loads(line)["stage"] for line in audit.read_text().splitlines()]
    assert stages.count("ingest") == N_PARTITIONS
    assert stages.count("infer") == N_VERSIONS * N_PARTITIONS
    assert stages.index("lock-verify") < stages.index("infer") < stages.index("analyze")


@pytest.mark.e2e
@pytest.mark.parametrize("target", ["weights", "candidate", "protocol"])
def test_tampering_stops_the_run_before_inference(tiny_run_copy, target):
    project = tiny_run_copy
    path = (
        project
        / {
            "weights": "models/ivsd-cnn/1.0.0/model.pt",
            "candidate": "models/ivsd-cnn/1.1.0/model.pt",
            "protocol": "protocols/demo.yaml",
        }[target]
    )
    original = path.read_bytes()
    lock = json.loads((project / "protocols" / "demo.lock.json").read_text())
    expected = {
        "weights": lock["weights_sha256"],
        "candidate": lock["models"][1]["weights_sha256"],
        "protocol": lock["protocol_sha256"],
    }[target]
    assert sha256_file(path) == expected  # the run's locked file, before the change
    if target != "protocol":
        data = bytearray(original)
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.write_bytes(original + b"# edited after the lock\n")
    predictions = project / "results" / "demo" / "predictions"
    before = {p: p.stat().st_mtime_ns for p in predictions.rglob("*.csv")}
    # the finished run's predictions: one file per partition and version
    assert len(before) == N_VERSIONS * N_PARTITIONS
    # --keep-going: the study check (which also compares the weights' sha256) and the lock check
    # are independent jobs; both run, whichever fails first
    result = snakemake(project, "--cores", "2", "--keep-going", *TINY, check=False)
    assert result.returncode != 0
    log = (project / "results" / "demo" / "logs" / "lock-check.log").read_text()
    relative = path.relative_to(project).as_posix()
    assert relative in log and expected in log and sha256_file(path) in log
    # no inference ran: every predictions file is untouched
    assert before == {p: p.stat().st_mtime_ns for p in predictions.rglob("*.csv")}


@pytest.mark.e2e
def test_unlocked_run_gives_a_draft(tiny_run_copy):
    project = tiny_run_copy
    (project / "protocols" / "demo.lock.json").unlink()
    refused = snakemake(project, "--cores", "2", *TINY, check=False)
    assert refused.returncode != 0
    assert (
        "mval lock protocols/demo.yaml"
        in (project / "results" / "demo" / "logs" / "lock-check.log").read_text()
    )
    # the draft's results and one report (the run's other outputs are not what this checks)
    draft_report = "results/demo/report/510k.pdf"
    snakemake(project, "--cores", "2", draft_report, *TINY, "lock={required: false}")
    results_dir = project / "results" / "demo"
    results = json.loads((results_dir / "analysis" / "results.json").read_text())
    assert results["lock"]["valid"] is False and results["lock"]["status"] == "absent"
    assert (results_dir / "report" / "510k.pdf").exists()
    # the reports were rendered again, from the unlocked run, and say so
    assert DRAFT_NOTICE in (results_dir / "report" / "510k.html").read_text()
