"""A real tiny workflow run: every document and table it writes follows its schema.

The run is the session's tiny demo study (``tiny_run``: 48 studies over 12 partitions, both
model versions); the post-market surveillance runs once more on a copy of it (``snakemake
surveillance``, with a short post-market demo).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.project import N_PARTITIONS, N_VERSIONS, TINY_POSTMARKET, copy_run, snakemake
from validation.exceptions import ReportError
from validation.schemas import load_document, load_table

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def surveillance_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``results/demo/surveillance`` of the tiny run, monitored after its release."""
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("schemas") / "run")
    snakemake(workdir, "--cores", "2", "surveillance", *TINY_POSTMARKET)
    return workdir / "results" / "demo" / "surveillance"


def test_results_and_manifest_follow_their_schemas(tiny_run: Path) -> None:
    analysis = tiny_run / "results" / "demo" / "analysis"
    results = load_document(analysis / "results.json", "results", error=ReportError)
    manifest = load_document(analysis / "manifest.json", "manifest")
    assert results["versions"] and results["comparison"]  # the candidate's blocks are checked
    assert results["data"]["manifest"]["partitions"] == manifest["partitions"]


def test_every_accounting_and_predictions_table_follows_its_schema(tiny_run: Path) -> None:
    results = tiny_run / "results" / "demo"
    partitions = sorted((results / "ingest").glob("*/*/accounting.csv"))
    predictions = sorted((results / "predictions").glob("*/*/*.csv"))
    assert len(partitions) == N_PARTITIONS and len(predictions) == N_VERSIONS * N_PARTITIONS
    for path in [*partitions, results / "ingest" / "accounting.csv"]:
        load_table(path, "accounting")
    for path in predictions:
        load_table(path, "predictions")


def test_surveillance_and_alerts_follow_their_schemas(surveillance_run: Path) -> None:
    surveillance = load_document(
        surveillance_run / "surveillance.json", "surveillance", error=ReportError
    )
    alerts = load_document(surveillance_run / "alerts.json", "alerts", error=ReportError)
    assert alerts == surveillance["alerts"] and alerts  # the demo plants an alarm
    assert surveillance["deployments"]["events"]  # and a site's switch to the candidate
