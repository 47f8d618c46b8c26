"""The input and population drift section: each drift test with the effect sizes it must reach
to count as material, a summary by variable, the notable results and the drift maps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from validation.numbers import as_float
from validation.report.figures.surveillance.drift import drift_figure, drift_map
from validation.report.labels import humanize
from validation.report.segments import Key, segment_key, segment_label
from validation.report.text import load_text

#: A drift test whose statistic is itself an effect size that must reach its threshold:
#: test -> the effect (``effects`` of ``reports/text/surveillance.yaml``).
STATISTIC_EFFECT: dict[str, str] = {"ks": "ks_d"}
#: Largest number of drift results listed individually in the drift section.
MAX_DRIFT_ROWS = 40


def _criterion(
    effect: Mapping[str, str], value: Any, thresholds: Mapping[str, Any]
) -> dict[str, Any]:
    return {"name": effect["name"], "value": value, "min": thresholds.get(effect["threshold"])}


def criteria(row: Mapping[str, Any], thresholds: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The effect sizes a drift row must reach to count as material, with their thresholds
    (``false_alarm.drift``).

    A Kolmogorov-Smirnov row needs its D (the statistic) and its PSI (the effect size) both at
    or above their thresholds; a chi-square row its Cramer's V.
    """
    effects = load_text("surveillance")["effects"]
    out = []
    test, effect = str(row["test"]), str(row["effect"])
    if test in STATISTIC_EFFECT:
        out.append(_criterion(effects[STATISTIC_EFFECT[test]], row["statistic"], thresholds))
    named = effects.get(effect) or {"name": effect, "threshold": ""}
    out.append(_criterion(named, row["effect_size"], thresholds))
    return out


def drift_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Drift rows with their effect-size criteria and whether each was met.

    ``passed`` (a material effect) restates the engine's rule: every effect size that could be
    computed at or above its threshold (an undefined PSI leaves D to decide); ``rejected``: p
    below the per-test level. ``ratio`` (the smallest effect size relative to its threshold; 1
    or more is material) shades the drift map.
    """
    text = load_text("surveillance")
    thresholds = data["false_alarm"]["drift"]
    alpha = as_float(thresholds["alpha"])
    out = []
    for r in data["drift"]:
        needed = criteria(r, thresholds)
        ratios = [
            as_float(c["value"]) / as_float(c["min"])
            for c in needed
            if math.isfinite(as_float(c["value"])) and as_float(c["min"]) > 0
        ]
        p = as_float(r["p_value"])
        out.append(
            {
                "month": str(r["month"]),
                "site": str(r["site"]),
                "vendor": str(r["vendor"]),
                "segment": segment_label(*segment_key(r)),
                "variable": text["variables"].get(str(r["variable"])) or humanize(r["variable"]),
                "test": text["tests"].get(str(r["test"]), str(r["test"])),
                "statistic": r["statistic"],
                "p_value": r["p_value"],
                "effect": needed[-1]["name"],
                "effect_size": r["effect_size"],
                "criteria": needed,
                "ratio": min(ratios) if ratios else math.nan,
                "passed": bool(ratios) and min(ratios) >= 1.0,
                "rejected": bool(math.isfinite(p) and math.isfinite(alpha) and p < alpha),
                "alarm": bool(r["alarm"]),
            }
        )
    return out


def _summary(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One variable's tests: how many rejected, were material and alarmed, and the largest."""
    first = items[0]
    sized = [r for r in items if math.isfinite(as_float(r["effect_size"]))]
    return {
        "variable": first["variable"],
        "test": first["test"],
        "effect": first["effect"],
        "criteria": [{"name": c["name"], "min": c["min"]} for c in first["criteria"]],
        "tests": sum(1 for r in items if math.isfinite(as_float(r["statistic"]))),
        "rejected": sum(1 for r in items if r["rejected"]),
        "passed": sum(1 for r in items if r["passed"]),
        "alarms": sum(1 for r in items if r["alarm"]),
        "largest": max(sized, key=lambda r: as_float(r["effect_size"])) if sized else None,
    }


def _panel_title(summary: Mapping[str, Any]) -> str:
    rule = " and ".join(
        f"{c['name']} \u2265 {as_float(c['min']):g}"
        if math.isfinite(as_float(c["min"]))
        else c["name"]
        for c in summary["criteria"]
    )
    return f"{summary['variable']}: {rule}"


def _notable(rows: Sequence[Mapping[str, Any]], keys: Sequence[Key]) -> list[Mapping[str, Any]]:
    """The results whose test rejected, most notable first: alarms, then material changes,
    then by the size of the effect."""
    rank = {k: i for i, k in enumerate(keys)}
    return sorted(
        (r for r in rows if r["alarm"] or r["rejected"]),
        key=lambda r: (
            not r["alarm"],
            not (r["passed"] and r["rejected"]),
            -as_float(r["ratio"]) if math.isfinite(as_float(r["ratio"])) else 0.0,
            r["month"],
            rank.get((r["site"], r["vendor"]), 0),
        ),
    )


def drift(data: Mapping[str, Any], months: Sequence[str], keys: Sequence[Key]) -> dict[str, Any]:
    """The drift section: every test, a summary by variable, the notable results (at most
    :data:`MAX_DRIFT_ROWS`, by alarm, month and segment) and the drift maps."""
    rows = drift_rows(data)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["variable"], r["test"], r["effect"]), []).append(r)
    summary = [_summary(items) for items in groups.values()]
    panels = [
        {"title": _panel_title(s), "rows": items}
        for s, items in zip(summary, groups.values(), strict=True)
    ]
    rank = {k: i for i, k in enumerate(keys)}
    notable = _notable(rows, keys)
    shown = sorted(
        notable[:MAX_DRIFT_ROWS],
        key=lambda r: (
            not r["alarm"],
            r["month"],
            rank.get((r["site"], r["vendor"]), 0),
            r["variable"],
        ),
    )
    return {
        "rows": rows,
        "summary": summary,
        "notable": shown,
        "notable_total": len(notable),
        "notable_hidden": max(0, len(notable) - MAX_DRIFT_ROWS),
        "n_tests": len(rows),
        "n_alarms": sum(1 for r in rows if r["alarm"]),
        "n_material": sum(1 for r in rows if r["passed"]),
        "figure": drift_map(drift_figure(panels, months, keys=keys)) if panels else None,
    }
