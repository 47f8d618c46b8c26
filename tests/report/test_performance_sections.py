"""The performance sections (9 measurement, 10 classification, 11 subgroups) of the report.

The inputs are built with the real analysis functions (``assess``, ``endpoint_rows``,
``strata_rows``, ``method_comparison``, ``site_heterogeneity``) on the synthetic study of
``conftest.make_study``, with the Canon partition of site s04 removed so that, as in the demo,
the sites differ in their vendor mix and the Canon vendor (+1.2 mm) fails its bias goal. The tests
check that every number the sections show is the one in results.json (formatted by the report's
filters), that failing and small strata are flagged, that the "not poolable" explanation is
derived from the data, and that missing optional blocks degrade to a notice instead of a crash.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.report.conftest import make_study
from validation.analysis.acceptance import apply_multiplicity
from validation.analysis.endpoints import assess, endpoint_rows, strata_rows
from validation.analysis.heterogeneity import site_heterogeneity
from validation.analysis.method_comparison import method_comparison
from validation.analysis.results import _acceptance, _agreement, _classification, _failing_strata
from validation.exceptions import ReportError
from validation.numbers import json_ready as _clean
from validation.protocol import load_protocol
from validation.report import build_context, render_evidence_html
from validation.report.evidence.performance import (
    endpoints_by_metric,
    heterogeneity_context,
    performance_context,
    subgroup_tables,
)
from validation.report.filters import ci, measure, num, pct, value


def mm(x, digits=2, *, sign=False, unit=False):
    """A value of the demo protocol's measurement (in mm) as the reports print it."""
    return measure(x, "mm", digits, sign=sign, symbol=unit)


@pytest.fixture(scope="module")
def study(
    tmp_path_factory: pytest.TempPathFactory, repo_root: Path
) -> tuple[dict[str, Any], pd.DataFrame]:
    """results.json (as a dict) and analysed.csv, the analysis blocks from the real functions."""
    path = make_study(tmp_path_factory.mktemp("perf") / "analysis")
    results = json.loads(path.read_text(encoding="utf-8"))
    table = pd.read_csv(path.parent / "analysed.csv")
    drop = (table["site"] == "s04") & (table["vendor"] == "Canon")
    table = table[~drop].reset_index(drop=True)
    results["data"]["partitions"] = [
        p
        for p in results["data"]["partitions"]
        if not (p["site"] == "s04" and p["vendor"] == "Canon")
    ]
    protocol = load_protocol(repo_root / "protocols" / "demo.yaml")
    pooled = assess(table, protocol)
    endpoints = endpoint_rows(pooled, protocol)
    strata = strata_rows(table, protocol)
    multiplicity = apply_multiplicity(
        endpoints, table, protocol, strata_met=not _failing_strata(strata)
    )
    results.update(
        _clean(
            {
                "endpoints": endpoints,
                "multiplicity": multiplicity,
                "acceptance": _acceptance(endpoints, strata, protocol),
                "agreement": _agreement(pooled, protocol),
                "classification": _classification(pooled, protocol),
                "method_comparison": method_comparison(table, protocol),
                "heterogeneity": site_heterogeneity(table, protocol),
                "strata": strata,
                "analysis": {**results["analysis"], **protocol.record("analysis")},
            }
        )
    )
    # Without follow-up visits the endpoint (patient-level) intervals equal the study-level
    # ones; widen them, as clustering does, so that the tests can tell the two apart.
    for ep in results["endpoints"]:
        if ep["ci_low"] is not None and ep["ci_high"] is not None:
            ep["ci_low"] -= 0.0123
            ep["ci_high"] += 0.0171
            ep["method"] += " (widened by the test)"
    return results, table


@pytest.fixture(scope="module")
def context(study: tuple[dict[str, Any], pd.DataFrame]) -> dict[str, Any]:
    results, table = study
    return performance_context(results, table)


@pytest.fixture(scope="module")
def html(study: tuple[dict[str, Any], pd.DataFrame]) -> str:
    results, table = study
    return render_evidence_html(build_context(results, table))


def _section(html: str, section: str) -> str:
    """The HTML of one report section, from its <section> tag to the next."""
    start = html.index(f'<section id="sec-{section}"')
    end = html.find("<section ", start + 10)
    return html[start : end if end > 0 else None]


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed (figures' data URIs dropped)."""
    fragment = re.sub(r'src="data:[^"]*"', "", fragment)
    text = re.sub(r"<[^>]+>", " ", fragment)
    return re.sub(r"\s+", " ", text).replace("&#39;", "'").replace("&amp;", "&")


# ---------------------------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------------------------


def test_context_has_the_three_sections(context: dict[str, Any]) -> None:
    assert set(context) == {"measurement", "diagnostic", "subgroup"}
    figs = {
        "measurement": ("vendor", "scatter"),
        "diagnostic": ("roc", "calibration"),
        "subgroup": ("bias", "accuracy"),
    }
    for block, ids in figs.items():
        for fig_id in ids:
            fig = context[block]["figures"][fig_id]
            assert fig["src"].startswith("data:image/svg+xml;base64,")
            assert fig["caption"] and fig["alt"]


def test_measurement_values_are_the_results(
    study: tuple[dict[str, Any], pd.DataFrame], context: dict[str, Any]
) -> None:
    results, _ = study
    m = context["measurement"]
    by_metric = {e["metric"]: e for e in results["endpoints"]}
    for metric in ("bias", "loa_low", "loa_high", "mae"):
        ep = m["endpoints"][metric]
        assert ep["ci"] == [by_metric[metric]["ci_low"], by_metric[metric]["ci_high"]]
        assert ep["verdict"]["text"] == by_metric[metric]["verdict"]
    assert m["rmse"] == results["agreement"]["rmse"]
    assert m["rmse_ci"] == results["agreement"]["rmse_ci"]
    deming = results["method_comparison"]["deming"]
    fit = next(r for r in m["method_comparison"]["regressions"] if r["key"] == "deming")
    assert (fit["intercept"], fit["slope"]) == (deming["intercept"], deming["slope"])
    assert fit["slope_ci"] == deming["slope_ci"]
    assert fit["slope_covers_one"] is (deming["slope_ci"][0] <= 1.0 <= deming["slope_ci"][1])
    assert [r["form"] for r in m["method_comparison"]["icc"]][:3] == [
        "ICC(1,1)",
        "ICC(2,1)",
        "ICC(3,1)",
    ]
    assert (
        m["method_comparison"]["ccc"]["estimate"] == results["method_comparison"]["ccc"]["estimate"]
    )


def test_diagnostic_values_are_the_results(
    study: tuple[dict[str, Any], pd.DataFrame], context: dict[str, Any]
) -> None:
    results, _ = study
    d = context["diagnostic"]
    cls = results["classification"]
    for row in d["measures"]:
        assert row["estimate"] == cls[row["key"]]["estimate"]
        assert row["ci"] == [cls[row["key"]]["ci_low"], cls[row["key"]]["ci_high"]]
    assert d["auc"]["estimate"] == cls["auc"]["estimate"]
    assert d["auc"]["endpoint"]["id"] == "lvh-auc"
    assert d["kappa"]["estimate"] == results["method_comparison"]["kappa"]["estimate"]
    sens = next(r for r in d["measures"] if r["key"] == "sensitivity")
    assert sens["endpoint"]["goal"] == {"lower": 0.75}


def test_failing_vendor_is_flagged(context: dict[str, Any]) -> None:
    sub = context["subgroup"]
    assert {"dimension": "Ultrasound vendor", "what": "Canon: bias"} in sub["failing"]
    vendor = next(t for t in sub["tables"] if t["dimension"] == "vendor")
    canon = next(r for r in vendor["rows"] if r["stratum"] == "Canon")
    assert canon["cells"]["bias"]["goal_met"] is False
    assert vendor["judged"] and "bias" in vendor["judged_metrics"]
    site = next(t for t in sub["tables"] if t["dimension"] == "site")
    assert not site["judged"] and site["rows"][0]["label"].endswith("(s01)")


def test_dimensions_in_protocol_order_and_bands_by_value(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results, _ = study
    rows = list(reversed(results["strata"]))  # dimensions and strata in reverse order
    tables = subgroup_tables({**results, "strata": rows})
    assert [t["dimension"] for t in tables] == list(results["analysis"]["strata"])
    bmi = next(t for t in tables if t["dimension"] == "bmi_band")
    assert [r["stratum"] for r in bmi["rows"]] == ["<25", "25-30", "\u226530"]
    site = next(t for t in tables if t["dimension"] == "site")
    assert [r["stratum"] for r in site["rows"]] == ["s04", "s03", "s02", "s01"]  # as given


def test_small_strata_are_flagged_not_dropped(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results, table = study
    results = copy.deepcopy(results)
    for r in results["strata"]:
        if r["dimension"] == "age_band" and r["stratum"] == "18-39":
            r["small"] = True
    sub = performance_context(results, table)["subgroup"]
    age = next(t for t in sub["tables"] if t["dimension"] == "age_band")
    row = next(r for r in age["rows"] if r["stratum"] == "18-39")
    assert row["small"] and age["any_small"] and sub["any_small"]
    assert "small" in sub["figures"]["bias"]["caption"]
    html = render_evidence_html(build_context(results, table))
    section = _section(html, "subgroups")
    assert 'class="row-small"' in section
    assert re.search(r"18-39\s*<span class=\"flag\">small</span>", section)


def test_no_small_mention_when_no_small_stratum(context: dict[str, Any]) -> None:
    assert "small" not in context["subgroup"]["figures"]["bias"]["caption"]
    assert "judges none" in context["subgroup"]["figures"]["accuracy"]["caption"]
    assert "dashed lines" in context["subgroup"]["figures"]["bias"]["caption"]


def test_not_poolable_explanation_is_derived_from_the_data(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results, _ = study
    het = heterogeneity_context(results)
    record = results["heterogeneity"]["metrics"]["bias"]
    assert het["available"]
    assert ("bias" in het["not_poolable"]) is (record["poolable"] is False)
    threshold = results["heterogeneity"]["i2_threshold"]
    assert het["drivers"], "the fixture has a site that drives the heterogeneity"
    for driver in het["drivers"]:
        rec = results["heterogeneity"]["metrics"][driver["key"]]
        assert rec["poolable"] is False
        loo = next(x for x in rec["leave_one_out"] if x["omitted"] == driver["site"])
        assert driver["i2_without"] == loo["i2"] <= threshold < driver["i2_all"]
    # Site s04 has no Canon partition, so the vendor mix is uneven and Canon (failing) is named.
    mix = {m["site"]: m for m in het["vendor_mix"]}
    assert mix["s04"]["missing"] == ["Canon"] and mix["s01"]["missing"] == []
    assert het["sites_lacking"] == [{"vendor": "Canon", "sites": ["s04"]}]


def test_even_vendor_mix_gives_no_vendor_explanation(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results, _ = study
    results = copy.deepcopy(results)
    results["data"]["partitions"].append(
        {**results["data"]["partitions"][0], "site": "s04", "vendor": "Canon", "included": 40}
    )
    het = heterogeneity_context(results)
    assert het["vendor_mix"] == [] and het["sites_lacking"] == []


def test_endpoints_by_metric_keeps_the_first() -> None:
    eps = [
        {"id": "a", "metric": "bias", "verdict": "PASS", "ci_low": 0.1, "ci_high": 0.2},
        {"id": "b", "metric": "bias", "verdict": "FAIL", "ci_low": None, "ci_high": 0.3},
    ]
    out = endpoints_by_metric(eps)
    assert out["bias"]["id"] == "a" and out["bias"]["verdict"]["css"] == "pass"
    assert endpoints_by_metric(eps[1:])["bias"]["ci"] == [None, 0.3]


# ---------------------------------------------------------------------------------------------
# Rendered sections
# ---------------------------------------------------------------------------------------------


def test_measurement_section_shows_the_results(
    study: tuple[dict[str, Any], pd.DataFrame], html: str
) -> None:
    results, _ = study
    text = _text(_section(html, "agreement"))
    ag, mc = results["agreement"], results["method_comparison"]
    ep = {e["metric"]: e for e in results["endpoints"]}
    assert mm(ag["bias"], sign=True, unit=True) in text
    assert ci(ag["bias_ci"]) in text
    assert ci(ep["bias"]["ci_low"], ep["bias"]["ci_high"]) in text  # the patient-level interval
    assert ci(ep["loa_high"]["ci_low"], ep["loa_high"]["ci_high"]) in text
    assert mm(ag["rmse"], unit=True) in text and ci(ag["rmse_ci"]) in text
    assert value(mc["deming"]["slope"], "slope") in text
    assert ci(mc["passing_bablok"]["slope_ci"], unit="slope") in text
    assert value(mc["ccc"]["estimate"], "index") in text
    for row in mc["icc"]:
        assert f"{row['form']} {value(row['estimate'], 'index')}" in text
    for name in ("Deming regression", "Passing-Bablok regression", "Lin's concordance"):
        assert name in text
    assert str(ag["rmse"]) not in text  # numbers are formatted, never raw
    assert 'id="fig-bland-altman-vendor"' in html and 'id="fig-scatter"' in html


def test_classification_section_shows_the_results(
    study: tuple[dict[str, Any], pd.DataFrame], html: str
) -> None:
    results, _ = study
    text = _text(_section(html, "classification"))
    cls = results["classification"]
    for key in ("sensitivity", "specificity", "ppv", "npv", "prevalence"):
        assert pct(cls[key]["estimate"]) in text
        assert ci(cls[key]["ci_low"], cls[key]["ci_high"], "") in text
    assert num(cls["lr_positive"]["estimate"]) in text
    assert value(cls["auc"]["estimate"], "index") in text
    assert ci(cls["auc"]["ci_low"], cls["auc"]["ci_high"], "index") in text
    kappa = results["method_comparison"]["kappa"]
    assert f"Cohen's kappa, device flag vs reference label {value(kappa['estimate'], 'index')}" in (
        text
    )
    assert 'id="fig-roc"' in html and 'id="fig-calibration"' in html


def test_subgroup_section_shows_flags_and_heterogeneity(
    study: tuple[dict[str, Any], pd.DataFrame], html: str
) -> None:
    results, _ = study
    section = _section(html, "subgroups")
    text = _text(section)
    assert "Judged strata that do not meet their goal" in text
    assert "Ultrasound vendor: Canon: bias" in text
    assert "goal-missed" in section
    for dim in ("Site", "Ultrasound vendor", "Scanner model", "Sex", "Image quality"):
        assert f"{dim}: agreement and classification by stratum" in text
    bias = results["heterogeneity"]["metrics"]["bias"]
    assert pct(bias["i2"]) in text and num(bias["tau2"], 3) in text
    assert ci(bias["prediction_low"], bias["prediction_high"]) in text
    assert "not poolable" in text and 'What "not poolable" means here' in text
    assert "s04 GE, Philips (no Canon)" in text
    assert "Vendor Canon, which does not meet its subgroup goal, contributes no studies at s04" in (
        text
    )
    assert "Leave-one-site-out" in text
    assert 'id="fig-forest-bias"' in section and 'id="fig-forest-accuracy"' in section


def test_blocks_the_contract_requires_are_refused_when_missing(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results, table = study
    results = copy.deepcopy(results)
    for key in ("method_comparison", "heterogeneity"):
        del results[key]
    for key in ("rmse", "rmse_ci"):
        del results["agreement"][key]
    with pytest.raises(ReportError) as refused:
        build_context(results, table)
    for field in ("method_comparison", "heterogeneity", "agreement.rmse", "agreement.rmse_ci"):
        assert f"{field} is missing (required)" in str(refused.value)


def test_optional_and_not_estimable_blocks_render_a_notice(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results, table = study
    results = copy.deepcopy(results)
    results["method_comparison"] = {"n": 2}  # too few studies to compare the methods
    del results["classification"]["auc"]  # one reference class: no ROC curve
    html = render_evidence_html(build_context(results, table))
    assert "did not report a method comparison" in html
    assert "reported no AUC" in html
    assert "Cohen's kappa, device flag" not in html


def test_not_estimable_blocks_still_render(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results, table = study
    results = copy.deepcopy(results)
    results["agreement"] = {"n": 2}
    results["classification"] = {"n": 0}
    results["method_comparison"] = {"n": 2}
    html = render_evidence_html(build_context(results, table.head(2)))
    assert "Agreement not estimable" in html and "Classification not estimable" in html
    assert "did not report a method comparison" in html
    assert 'id="fig-roc"' in html and 'id="fig-calibration"' in html
