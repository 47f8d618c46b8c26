"""A degenerate model is a result, not a crash: the workflow analyses it and both reports render.

The released version of the tiny run is replaced, after inference, by a model that reads every
study the same and calls none positive (its predictions table rewritten, a valid table). The
workflow then re-runs only what depends on it: the analysis says why the regression lines are
missing (NOT EVALUABLE with the reason, not a traceback), the study FAILS on the goals a constant
cannot meet, and the 510(k) PDF still renders and shows the reason.
"""

from __future__ import annotations

import json

import pandas as pd

from tests.outputs import pdf_layout_text
from tests.project import TINY, snakemake


def test_a_constant_model_fails_the_study_and_the_reports_render(tiny_run_copy):
    project = tiny_run_copy
    released = project / "results" / "demo" / "predictions" / "1.0.0"
    for path in sorted(released.rglob("*.csv")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        predicted = table["status"] == "predicted"
        table.loc[predicted, "measurement"] = "9.0000"
        table.loc[predicted, "probability"] = "0.100000"
        table.to_csv(path, index=False)
    report = project / "results" / "demo" / "report" / "510k.pdf"
    before = report.stat().st_mtime_ns

    result = snakemake(project, "--cores", "2", *TINY, check=False, timeout=2400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    results = json.loads((project / "results" / "demo" / "analysis" / "results.json").read_text())
    assert results["overall_verdict"] == "FAIL"
    endpoints = {e["metric"]: e for e in results["endpoints"]}
    assert endpoints["sensitivity"]["estimate"] == 0.0
    assert endpoints["sensitivity"]["verdict"] == "FAIL"
    assert endpoints["auc"]["estimate"] == 0.5
    fits = results["method_comparison"]
    for name in ("deming", "passing_bablok"):
        assert fits[name]["slope"] is None and "must not be constant" in fits[name]["reason"]
    assert report.stat().st_mtime_ns > before  # re-rendered from the new results
    text = pdf_layout_text(report)
    assert "FAIL" in text
    assert "must not be constant" in text or "not evaluable" in text.lower()
