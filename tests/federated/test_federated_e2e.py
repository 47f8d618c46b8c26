"""End to end: the tiny demo run centrally, then federated (one signed bundle per site, each with
its own key, pooled at the coordinating centre): the pooled results equal the centralised ones.

The centralised run is the session's tiny run (``tiny_run`` in ``tests/conftest.py``), copied;
the bundles, the pooling and the federated reports run in that copy once for this module."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pypdf
import pytest

from tests.project import TINY, copy_run, mval, snakemake
from validation.audit import verify
from validation.hashing import sha256_file

SITES = ("s01", "s02", "s03", "s04")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def federated(tiny_run, tmp_path_factory) -> Path:
    """The centralised run (a copy of the session's tiny run), then every site's bundle (rule
    site_bundle, each site signing with its own key) and the coordinating centre's pooled
    analysis and reports (target federated)."""
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("federated") / "project")
    (workdir / "sites" / "keys").mkdir()
    for site in SITES:
        mval(workdir, "keys", "generate", "--site", site, "--out", "keys")
        shutil.copy(workdir / "keys" / f"{site}.pub", workdir / "sites" / "keys")
    bundles = [f"results/demo/federated/bundles/{site}.bundle" for site in SITES]
    snakemake(workdir, "--cores", "2", *bundles, *TINY)
    inbox = workdir / "results" / "demo" / "federated" / "inbox"
    inbox.mkdir()
    for bundle in bundles:
        shutil.copy(workdir / bundle, inbox)
    snakemake(workdir, "--cores", "2", "federated", *TINY)
    return workdir


def _comparable(results: dict) -> dict:
    """results.json without what must differ: times, run ids, software, file paths and the
    sha256 of the data files (a bundle's accounting has its file paths withheld)."""
    results = copy.deepcopy(results)
    for key in ("created_utc", "report_id", "software"):
        results.pop(key)
    results["lock"].pop("unblinded_utc")
    data = results["data"]
    for partition in data["partitions"] + data["manifest"]["partitions"]:
        for key in ("accounting_sha256", "predictions_sha256"):
            partition.pop(key)
    data["manifest"].pop("sha256")
    data.pop("bundles", None)  # only the pooled run came from bundles
    for reference in data["reference_files"]:
        reference.pop("path")
        reference.pop("sha256")
    for analysis in (results.get("versions") or {}).get("analyses", {}).values():
        analysis.pop("predictions")
    return results


def test_pooled_results_equal_the_centralised_run(federated):
    central = json.loads((federated / "results/demo/analysis/results.json").read_text())
    pooled = json.loads((federated / "results/demo/federated/analysis/results.json").read_text())
    # the headline numbers, spelled out
    for mine, theirs in zip(pooled["endpoints"], central["endpoints"], strict=True):
        assert mine == theirs
    assert pooled["overall_verdict"] == central["overall_verdict"]
    assert pooled["flow"] == central["flow"] and pooled["flow_by_site"] == central["flow_by_site"]
    assert pooled["strata"] == central["strata"]
    assert pooled["comparison"] == central["comparison"]
    # and everything else but times, paths and data-file hashes
    assert _comparable(pooled) == _comparable(central)
    for table in ("analysed.csv", "versions/1.1.0/analysed.csv"):
        assert (federated / "results/demo/federated/analysis" / table).read_bytes() == (
            federated / "results/demo/analysis" / table
        ).read_bytes()
    # the unchanged tables crossed verbatim: predictions and references hash the same
    shas = [p["sha256"] for p in central["versions"]["analyses"]["1.1.0"]["predictions"]]
    assert [p["sha256"] for p in pooled["versions"]["analyses"]["1.1.0"]["predictions"]] == shas
    assert [r["sha256"] for r in pooled["data"]["reference_files"]] == [
        r["sha256"] for r in central["data"]["reference_files"]
    ]


def test_reports_render_from_the_pooled_results(federated):
    for kind in ("510k", "de-novo"):
        assert (federated / f"results/demo/federated/report/{kind}.pdf").stat().st_size > 10_000


def test_results_and_report_name_the_verified_bundles(federated):
    pooled = json.loads((federated / "results/demo/federated/analysis/results.json").read_text())
    bundles = pooled["data"]["bundles"]
    assert [b["site"] for b in bundles] == list(SITES)
    for b in bundles:
        assert b["sha256"] == sha256_file(federated / b["bundle"])
    pdf = pypdf.PdfReader(federated / "results/demo/federated/report/510k.pdf")
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in pdf.pages)
    assert f"pooled from {len(SITES)} signed site bundles" in text
    assert "Site bundles (federated mode)" in text
    assert all(b["sha256"] in text.replace(" ", "") for b in bundles)
    central = pypdf.PdfReader(federated / "results/demo/report/510k.pdf")
    assert "federated mode" not in " ".join(p.extract_text() or "" for p in central.pages)


def test_each_bundle_was_signed_by_its_own_site(federated):
    record = json.loads((federated / "results/demo/federated/analysis/bundles.json").read_text())[
        "bundles"
    ]
    assert [b["site"] for b in record] == list(SITES)
    assert len({b["signer_key_id"] for b in record}) == len(SITES)


def test_audit_trail_records_exports_and_pooling(federated):
    audit = federated / "results/demo/audit.jsonl"
    verify(audit)
    stages = [json.loads(line)["stage"] for line in audit.read_text().splitlines()]
    assert stages.count("bundle-export") == len(SITES)
    assert stages.index("analyze") < stages.index("bundle-export") < stages.index("federated-pool")


def test_pooling_a_tampered_bundle_fails_with_exit_11(federated, tmp_path):
    inbox = federated / "results/demo/federated/inbox"
    bundles = []
    for site in SITES:
        shutil.copy(inbox / f"{site}.bundle", tmp_path)
        bundles.append(str(tmp_path / f"{site}.bundle"))
    data = bytearray(Path(bundles[2]).read_bytes())
    data[len(data) // 2] ^= 0x04
    Path(bundles[2]).write_bytes(bytes(data))
    result = mval(
        federated,
        *("bundle", "pool", *bundles, "--protocol", "protocols/demo.yaml"),
        *("--keys", "sites/keys", "--out", str(tmp_path / "analysis")),
        check=False,
    )
    assert result.returncode == 11, result.stderr
    assert f"bundle {bundles[2]} (site s03) refused: payload changed after signing" in (
        result.stderr
    )
    assert not (tmp_path / "analysis" / "results.json").exists()
