"""Report context of the model version comparison (modification protocol, FDA PCCP).

When the protocol names several locked model versions, the analysis runs every candidate version
on the same studies as the released one and writes two blocks to ``results.json``:

* ``versions``: each locked version (hashes, lock time, training data, the change it makes) and
  each candidate's own analysis against the study goals (``analyses[<version>]``);
* ``comparison``: the paired impact assessment of each candidate against the released version,
  one tidy row per endpoint and stratum (``dimension`` ``"all"`` for the pooled comparison), the
  candidate's verdict and its plain-language conclusion.

This module only looks these values up and reshapes them for the templates (pooled and judged
rows, badges, the non-inferiority limit each margin implies) and says which forest plots to draw;
it computes no statistic and does not rewrite the conclusion. Without a ``comparison`` block the
context is ``{"versions": None}`` and the report renders as for a single model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from validation.numbers import finite_or_none
from validation.report.badges import badge
from validation.report.fields import block
from validation.report.figures import versions as version_figures
from validation.report.filters import suffix
from validation.report.labels import dimension_title, metric_unit, site_names, stratum_label
from validation.report.outputs import measure_context, outputs_of

#: How the direction of improvement reads in the margin column.
BETTER_TEXT = {
    "higher": "higher is better",
    "lower": "lower is better",
    "closer to zero": "absolute bias closer to zero is better",
}

#: A plot status of each comparison row: how the forest plot draws it.
STATUSES = ("pass", "fail", "untested", "descriptive", "descriptive-fail", "na")


def limit(better: str, margin: Any) -> float | None:
    """The non-inferiority limit on the difference (candidate minus released).

    ``-margin`` when higher is better (the lower CI bound must stay above it), ``+margin`` when
    lower is better or, for the bias, when the absolute bias must not grow by more than the margin
    (the upper CI bound must stay below it).
    """
    m = finite_or_none(margin)
    if m is None:
        return None
    return -m if better == "higher" else m


def status(row: Mapping[str, Any]) -> str:
    """How a comparison row counts: one of :data:`STATUSES`.

    ``pass`` / ``fail``: judged by the protocol and tested; ``untested``: judged but not reached
    by the multiplicity plan; ``descriptive`` / ``descriptive-fail``: shown but not judged (the
    interval clears, or does not clear, the limit); ``na``: not evaluable.
    """
    verdict = str(row.get("verdict") or "").upper()
    if verdict == "NOT EVALUABLE" or finite_or_none(row.get("difference")) is None:
        return "na"
    if not row.get("judged"):
        return "descriptive-fail" if row.get("noninferior") is False else "descriptive"
    if verdict == "NOT TESTED":
        return "untested"
    return "pass" if verdict == "NON-INFERIOR" else "fail"


def _units(results: Mapping[str, Any]) -> dict[str, str]:
    return {str(e["id"]): str(e.get("unit", "")) for e in results.get("endpoints") or []}


def _row(
    row: Mapping[str, Any],
    units: Mapping[str, str],
    names: Mapping[str, str],
    measure: Mapping[str, Any] | None,
) -> dict[str, Any]:
    metric = str(row.get("metric"))
    unit = units.get(str(row.get("endpoint")), metric_unit(metric, measure))
    better = str(row.get("better"))
    dimension, stratum = str(row.get("dimension")), str(row.get("stratum"))
    bound = limit(better, row.get("margin"))
    return {
        "endpoint": row.get("endpoint"),
        "label": row.get("label"),
        "metric": metric,
        "primary": bool(row.get("primary")),
        "unit": unit,
        "dimension": dimension,
        "dimension_title": "All studies" if dimension == "all" else dimension_title(dimension),
        "stratum": stratum,
        "stratum_label": "pooled"
        if dimension == "all"
        else stratum_label(dimension, stratum, names),
        "studies": row.get("studies"),
        "released": row.get("released"),
        "candidate": row.get("candidate_estimate"),
        "difference": row.get("difference"),
        "ci_low": row.get("ci_low"),
        "ci_high": row.get("ci_high"),
        "method": row.get("method"),
        "absolute": row.get("statistic") == "absolute bias",
        "margin": row.get("margin"),
        "limit": bound,
        "side": "lower" if better == "higher" else "upper",
        "better_text": BETTER_TEXT.get(better, better),
        "p_value": row.get("p_value"),
        "adjusted_p": row.get("adjusted_p"),
        "tested": row.get("tested"),
        "judged": bool(row.get("judged")),
        "small": bool(row.get("small")),
        "improved": row.get("improved"),
        "worsened": row.get("worsened"),
        "verdict": badge(row.get("verdict")),
        "status": status(row),
    }


def _where(row: Mapping[str, Any]) -> str:
    """A comparison named for the text: "Sensitivity" or "Sensitivity (vendor Canon)"."""
    if row["dimension"] == "all":
        return str(row["label"])
    return f"{row['label']} ({row['dimension_title'].lower()} {row['stratum_label']})"


def _model(entry: Mapping[str, Any]) -> dict[str, Any]:
    change = block(entry, "change") or None
    training = block(entry, "training_data")
    return {
        "version": entry.get("version"),
        "role": entry.get("role"),
        "name": entry.get("name"),
        "path": entry.get("path"),
        "weights": entry.get("weights"),
        "sha256": entry.get("sha256"),
        "state_sha256": entry.get("state_sha256") or None,
        "locked_utc": entry.get("locked_utc") or None,
        "trained": entry.get("trained") or None,
        "training_vendors": [str(v) for v in training.get("vendors") or []],
        "training_studies": training.get("studies_fit"),
        "change": None
        if change is None
        else {
            "previous_version": change.get("previous_version"),
            "description": change.get("description"),
            "rationale": change.get("rationale"),
            "vendors_added": [str(v) for v in change.get("vendors_added") or []],
            "vendors_removed": [str(v) for v in change.get("vendors_removed") or []],
        },
    }


def _estimate(ep: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if ep is None:
        return None
    return {
        "estimate": ep.get("estimate"),
        "ci_low": ep.get("ci_low"),
        "ci_high": ep.get("ci_high"),
        "n": ep.get("n"),
        "verdict": badge(ep.get("verdict")),
    }


def _failing_strata(acceptance: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    return [
        f"{dimension_title(str(f.get('dimension'))).lower()} "
        f"{stratum_label(str(f.get('dimension')), str(f.get('stratum')), names)} "
        f"({f.get('metric')})"
        for f in acceptance.get("strata_failing") or []
    ]


def _goals(
    results: Mapping[str, Any], analysis: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, Any]:
    """The candidate's own performance against the study goals, beside the released one's."""
    released = {str(e["id"]): e for e in results.get("endpoints") or []}
    candidate = {str(e["id"]): e for e in analysis.get("endpoints") or []}
    order = list(released) + [k for k in candidate if k not in released]
    rows = []
    for key in order:
        ep = released.get(key) or candidate[key]
        rows.append(
            {
                "label": ep.get("label"),
                "primary": bool(ep.get("primary")),
                "unit": str(ep.get("unit", "")),
                "goal_text": ep.get("goal_text"),
                "released": _estimate(released.get(key)),
                "candidate": _estimate(candidate.get(key)),
            }
        )
    acc_r = results.get("acceptance") or {}
    acc_c = analysis.get("acceptance") or {}
    return {
        "rows": rows,
        "released_verdict": badge(acc_r.get("verdict", results.get("overall_verdict"))),
        "candidate_verdict": badge(acc_c.get("verdict")),
        "released_failing": _failing_strata(acc_r, names),
        "candidate_failing": _failing_strata(acc_c, names),
        "rule": acc_c.get("rule") or acc_r.get("rule"),
        "n": (analysis.get("flow") or {}).get("analysed"),
    }


def _is_measurement(unit: str) -> bool:
    """Whether an endpoint's unit is the measurement's (not a proportion nor an index)."""
    return unit not in ("", "proportion", "index", "slope")


def _panel(endpoint_rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    pooled = endpoint_rows[0]
    unit = str(pooled["unit"])
    if unit in ("", "proportion"):
        xlabel = "Difference, percentage points"
    elif _is_measurement(unit):
        shown = suffix(unit).strip()
        xlabel = f"{'Change in |bias|' if pooled['absolute'] else 'Difference'}"
        xlabel += f", {shown}" if shown else ""
    else:
        xlabel = f"Difference in {'AUC' if pooled['metric'] == 'auc' else 'the index'}"
    rows: list[dict[str, Any]] = []
    current = None
    for r in endpoint_rows:
        if r["dimension"] != "all" and r["dimension"] != current:
            current = r["dimension"]
            rows.append({"kind": "header", "label": r["dimension_title"]})
        rows.append(
            {
                "kind": "pooled" if r["dimension"] == "all" else "stratum",
                "label": "All studies (pooled)" if r["dimension"] == "all" else r["stratum"],
                "difference": finite_or_none(r["difference"]),
                "ci_low": finite_or_none(r["ci_low"]),
                "ci_high": finite_or_none(r["ci_high"]),
                "status": r["status"],
            }
        )
    return {
        "endpoint": pooled["endpoint"],
        "title": str(pooled["label"]),
        "unit": unit,
        "xlabel": xlabel,
        "limit": pooled["limit"],
        "rows": rows,
    }


def _figures(
    rows: Sequence[Mapping[str, Any]],
    version: str,
    released: str,
    confidence: float,
    measure: Mapping[str, Any] | None,
) -> list[dict[str, str]]:
    """Forest plots of the differences: one for the measurement endpoints (in its unit), one
    for the rest; one panel per endpoint, rows pooled then every stratum of the shown
    dimensions."""
    by_endpoint: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_endpoint.setdefault(str(r["endpoint"]), []).append(r)
    panels = [
        _panel(sorted(group, key=lambda r: r["dimension"] != "all"))
        for group in by_endpoint.values()
    ]
    groups = (
        (
            "measurement",
            f"{measure['label'] if measure else 'measurement'} measurement endpoints",
            [p for p in panels if _is_measurement(p["unit"])],
        ),
        (
            "accuracy",
            "classification endpoints",
            [p for p in panels if not _is_measurement(p["unit"])],
        ),
    )
    out = []
    for key, what, group in groups:
        for i in range(0, len(group), version_figures.MAX_PANELS):
            chunk = group[i : i + version_figures.MAX_PANELS]
            suffix = f"-{i // version_figures.MAX_PANELS + 1}" if i else ""
            out.append(
                version_figures.comparison_forest(
                    chunk,
                    fig_id=f"versions-{version}-{key}{suffix}",
                    alt=f"Forest plot of the differences between version {version} and the "
                    f"released version {released}, {what}, pooled and by stratum",
                    caption=f"Version {version} minus released version {released}: {what}. "
                    f"Each row is the paired difference with its two-sided "
                    f"{100 * confidence:g}% confidence interval, over all studies and in each "
                    "stratum; the solid line is no difference, the dashed line the "
                    "non-inferiority limit set by the protocol's margin (shaded: the inferior "
                    "side). Filled markers are comparisons the protocol judges; open markers "
                    "are shown but not judged.",
                    confidence=confidence,
                )
            )
    return out


def _candidate(
    result: Mapping[str, Any],
    results: Mapping[str, Any],
    comparison: Mapping[str, Any],
    names: Mapping[str, str],
) -> dict[str, Any]:
    version = str(result["version"])
    released = str(comparison.get("released"))
    units = _units(results)
    measure = measure_context(outputs_of(results))
    shown = [str(d) for d in comparison.get("dimensions") or []]
    rows = [
        _row(r, units, names, measure)
        for r in result.get("rows") or []
        if r.get("dimension") == "all" or str(r.get("dimension")) in shown
    ]
    rows.sort(key=lambda r: (r["dimension"] != "all", _dim_index(r["dimension"], shown)))
    pooled = [r for r in rows if r["dimension"] == "all"]
    strata = [r for r in rows if r["dimension"] != "all"]
    confidence = float(comparison.get("confidence") or results["analysis"]["confidence"])
    analysis = ((results.get("versions") or {}).get("analyses") or {}).get(version) or {}
    return {
        "version": version,
        "verdict": badge(result.get("verdict")),
        "rule": result.get("rule"),
        "conclusion": result.get("conclusion"),
        "pairing": dict(result.get("pairing") or {}),
        "multiplicity": (result.get("multiplicity") or {}).get("statement"),
        "gate_open": (result.get("multiplicity") or {}).get("gate_open"),
        "pooled": pooled,
        "judged": [r for r in strata if r["judged"]],
        "failing": [_where(r) for r in rows if r["status"] == "fail"],
        "worse_not_judged": [
            _where(r) for r in strata if not r["judged"] and r["worsened"] and r["status"] != "na"
        ],
        "figures": _figures(rows, version, released, confidence, measure),
        "goals": _goals(results, analysis, names) if analysis else None,
    }


def _dim_index(dimension: str, shown: Sequence[str]) -> int:
    return shown.index(dimension) if dimension in shown else len(shown)


def _by(comparison: Mapping[str, Any], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "dimension": dimension_title(str(dim)),
            "endpoints": [labels.get(str(e), str(e)) for e in ids],
        }
        for dim, ids in (comparison.get("by") or {}).items()
    ]


def locked_models(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every locked model version (released first), for the lock and traceability records."""
    models = (results.get("versions") or {}).get("models") or []
    return [_model(m) for m in models if isinstance(m, Mapping)]


def versions_context(results: Mapping[str, Any]) -> dict[str, Any]:
    """Context of the model version comparison section (``versions`` is None without one).

    Parameters
    ----------
    results : mapping
        The parsed, checked ``results.json``; its ``versions`` and ``comparison`` blocks are
        optional.

    Returns
    -------
    dict
        ``{"versions": None}`` for a single locked model; otherwise ``versions`` holds
        ``released``, ``confidence``, ``rationale``, ``by`` (the judged strata), ``dimensions``,
        ``models`` (each locked version with its hashes, lock time and change) and
        ``candidates`` (per candidate: verdict, rule, conclusion, pairing counts, multiplicity
        statement, pooled and judged stratum rows, failing and worse-but-not-judged
        comparisons, the forest plots and the goals table).
    """
    comparison = results.get("comparison")
    if not isinstance(comparison, Mapping) or not comparison.get("results"):
        return {"versions": None}
    names = site_names(results)
    labels = {str(e["id"]): str(e["label"]) for e in results.get("endpoints") or []}
    candidates = [
        _candidate(r, results, comparison, names)
        for r in comparison["results"]
        if isinstance(r, Mapping)
    ]
    return {
        "versions": {
            "released": comparison.get("released"),
            "confidence": float(comparison.get("confidence") or results["analysis"]["confidence"]),
            "rationale": comparison.get("rationale") or None,
            "by": _by(comparison, labels),
            "dimensions": [dimension_title(str(d)) for d in comparison.get("dimensions") or []],
            "models": locked_models(results),
            "candidates": candidates,
        }
    }
