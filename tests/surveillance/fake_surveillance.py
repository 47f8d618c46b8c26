"""A synthetic ``surveillance.json`` following the surveillance contract, for the report tests.

:func:`build_surveillance` writes 2 sites x 2 vendors and the pooled segment over 12 months,
with one alarmed segment (s02 / GE: a scanner software upgrade in 2027-01 that shifts the model's
measurements by +1.5 mm, raising a header alert, a CUSUM alert on the monthly mean and a
performance alert on the audited bias), a missing batch, a duplicate file, drift tests of which
one rejects on a trivial effect, and months still awaiting labels. The change of the audited bias
since validation (``bias_change``) alarms in s02 / GE from 2027-02, s01 / Philips has no agreement
record (not assessed), and the false-alarm plan gives the audited-bias streams weight 4. The chart
statistics are computed by the textbook recursions written out here (tabular CUSUM, Page 1954;
EWMA with exact limits, Lucas & Saccucci 1990; the audited-bias T of
``validation.surveillance.bias_change``): the report draws them and must not recompute them. The
document is checked against ``validation/schemas/surveillance.schema.json`` when it is built.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from validation.schemas import validate_document

MONTHS = [f"2026-{m:02d}" for m in range(7, 13)] + [f"2027-{m:02d}" for m in range(1, 7)]
SHIFT = {"site": "s02", "vendor": "GE", "month": "2027-01", "bias_mm": 1.5}
H, K, LAM, L = 5.12, 0.5, 0.2, 2.93
THRESHOLD = 0.5
#: Audited-bias change: windows (months), weight of its streams, materiality gate, limits.
WINDOWS = (1, 2, 3)
BIAS_WEIGHT, MIN_SHIFT = 4.0, 0.5
BIAS_LIMIT, POOLED_BIAS_LIMIT = 3.6, 3.75
#: The segment whose baseline has no agreement record (its bias change is not assessed).
NO_AGREEMENT = ("s01", "Philips")
#: The released model version every site runs, and its weights' sha256.
RELEASED, MODEL_SHA256 = "1.0.0", "cd" * 32


def _cusum(z: list[float | None]) -> list[tuple[float, float, bool]]:
    """Two-sided tabular CUSUM (Page 1954): C+ = max(0, C+ + z - k), C- = max(0, C- - z - k)."""
    up = lo = 0.0
    out = []
    for value in z:
        if value is not None:
            up = max(0.0, up + value - K)
            lo = max(0.0, lo - value - K)
        out.append((up, lo, up > H or lo > H))
    return out


def _ewma(z: list[float | None]) -> list[tuple[float, float, bool]]:
    """EWMA of z with exact limits L * sqrt(lam / (2 - lam) * (1 - (1 - lam)^(2t)))."""
    stat, out = 0.0, []
    for t, value in enumerate(z, start=1):
        if value is not None:
            stat = LAM * value + (1 - LAM) * stat
        limit = L * math.sqrt(LAM / (2 - LAM) * (1 - (1 - LAM) ** (2 * t)))
        out.append((stat, limit, abs(stat) > limit))
    return out


def _version(vendor: str, shifted: bool) -> str:
    return f"{vendor} v1.0" + (" upgrade" if shifted else "")


def _around(value: float, half: float) -> list[float]:
    return [value - half, value + half]


def _agreement(n: int, bias: float) -> dict[str, Any]:
    """A baseline segment's validation agreement (model minus reference, and the LVH call)."""
    return {"n": n, "bias": bias, "sd": 0.8, "sensitivity": 0.9, "specificity": 0.92}


def _bias_records(
    rows: list[dict[str, Any]], agreement: dict[str, Any], limit: float
) -> list[dict[str, Any]]:
    """Audited-bias T per month: over windows of the last 1-3 months ending at the month, the
    one of largest |T| = |d - b0| / (s0 sqrt(1/n + 1/n0)); alarm at the limit and a material
    change (the statistic of ``validation.surveillance.bias_change``)."""
    n = [r["labelled"] for r in rows]
    total = [r["bias"] * r["labelled"] if r["labelled"] else 0.0 for r in rows]
    b0, s0, n0 = agreement["bias"], agreement["sd"], agreement["n"]
    out = []
    for i, row in enumerate(rows):
        best = None
        for w in WINDOWS:
            lo = max(0, i - w + 1)
            nw = sum(n[lo : i + 1])
            if nw:
                d = sum(total[lo : i + 1]) / nw
                t = (d - b0) / (s0 * math.sqrt(1 / nw + 1 / n0))
                if best is None or abs(t) > abs(best[0]):
                    best = (t, d, nw, MONTHS[lo])
        if best is None:
            continue
        t, d, nw, start = best
        out.append(
            {
                "month": row["month"],
                "site": row["site"],
                "vendor": row["vendor"],
                "window_start": start,
                "labelled": nw,
                "bias": d,
                "baseline_bias": b0,
                "change_mm": d - b0,
                "t": t,
                "limit": limit,
                "alarm": abs(t) >= limit and abs(d - b0) >= MIN_SHIFT,
                "model_version": row["model_version"],
            }
        )
    return out


def _bias_change(
    performance: list[dict[str, Any]],
    agreement: dict[tuple[str, str], dict[str, Any] | None],
    alpha: float,
) -> dict[str, Any]:
    """The ``bias_change`` block: a calibration record and monthly T per assessed segment."""
    lags = {"1": 0.4, "2": 0.4, "3": 0.2}
    segments, months = [], []
    for key, agr in agreement.items():
        if not agr:
            continue
        rows = [r for r in performance if (r["site"], r["vendor"]) == key]
        limit = POOLED_BIAS_LIMIT if key == ("*", "*") else BIAS_LIMIT
        segments.append(
            {
                "site": key[0],
                "vendor": key[1],
                "n0": agr["n"],
                "audited_per_month": 12 if key == ("*", "*") else 3,
                "lag_probabilities": lags,
                "months": 12,
                "alpha": alpha,
                "draws": 200_000,
                "seed": 20261125,
                "limit": limit,
                "model_version": "" if key == ("*", "*") else RELEASED,
            }
        )
        months += _bias_records(rows, agr, limit)
    return {
        "windows_months": list(WINDOWS),
        "alpha": alpha,
        "label_delay_months": 3,
        "observed_lag_months": {"1": 40, "2": 38, "3": 19},
        "labels_later_than_declared": 0,
        "segments": segments,
        "months": months,
        "power": {
            "segment": "median segment",
            "n0": 50,
            "audited_per_month": 3,
            "sd_mm": 0.8,
            "limit": BIAS_LIMIT,
            "min_shift": MIN_SHIFT,
            "draws": 20_000,
            "rows": [
                {
                    "shift_mm": shift,
                    "by_months_after_onset": {"0": 0.0, "1": p / 4, "2": p / 2, "3": p},
                }
                for shift, p in ((0.5, 0.08), (1.0, 0.41), (1.5, 0.83), (2.0, 0.987))
            ],
        },
    }


def build_surveillance(
    sites: dict[str, list[str]] | None = None,
    *,
    shift: dict[str, Any] | None = SHIFT,
    seed: int = 7,
    n_per_month: int = 10,
    bias_change: bool = True,
) -> dict[str, Any]:
    """A synthetic ``surveillance.json`` (contract schema_version 1).

    Segments are ``sites`` x vendors plus the pooled one; ``shift`` (or None for an in-control
    history) plants a +bias in one segment from its month on, which shows in the headers, the
    monthly mean (CUSUM alarm) and the audited bias (performance alarm and bias change). s01 /
    Philips sends no batch in 2026-11. ``bias_change=False`` writes the contract as it was
    before the audited-bias change signal (no ``bias_change``, no agreement in the baseline, no
    weighted split, alerts without ``variables``).
    """
    sites = sites or {"s01": ["GE", "Philips"], "s02": ["GE", "Siemens"]}
    rng = np.random.default_rng(seed)
    keys = [(s, v) for s, vs in sites.items() for v in vs]
    pending = MONTHS[-3:]
    mu0 = {k: 10.4 + 0.1 * i for i, k in enumerate(keys)}
    sd0, p0 = 2.0, 0.30

    def shifted(key: tuple[str, str], month: str) -> bool:
        return bool(shift) and key == (shift["site"], shift["vendor"]) and month >= shift["month"]

    census, integrity, drift, performance = [], [], [], []
    series: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    pooled_n = dict.fromkeys(MONTHS, 0)
    pooled_sum = dict.fromkeys(MONTHS, 0.0)
    pooled_pos = dict.fromkeys(MONTHS, 0.0)
    for key in keys:
        z_mean, z_rate, means, rates, ns = [], [], [], [], []
        for month in MONTHS:
            missing = key == ("s01", "Philips") and month == "2026-11"
            n = 0 if missing else n_per_month
            up = shifted(key, month)
            mean = mu0[key] + (shift["bias_mm"] if up else 0.0) + rng.normal(0, sd0 / math.sqrt(10))
            rate = min(1.0, max(0.0, p0 + rng.normal(0, 0.08) + (0.1 if up else 0.0)))
            ns.append(n)
            means.append(None if missing else mean)
            rates.append(None if missing else rate)
            z_mean.append(None if missing else (mean - mu0[key]) / (sd0 / math.sqrt(n)))
            z_rate.append(None if missing else (rate - p0) / math.sqrt(p0 * (1 - p0) / n))
            pooled_n[month] += n
            pooled_sum[month] += 0.0 if missing else mean * n
            pooled_pos[month] += 0.0 if missing else rate * n
            excluded = 0 if missing else int(rng.integers(0, 2))
            dup = 1 if key == ("s02", "Siemens") and month == "2027-03" else 0
            census.append(
                {
                    "month": month,
                    "site": key[0],
                    "vendor": key[1],
                    "received": n,
                    "included": n - excluded,
                    "excluded": excluded,
                    "predicted": n - excluded,
                    "quality_rejected": 0,
                    "repeats": 0,
                    "duplicates": dup,
                    "software_versions": {} if missing else {_version(key[1], up): n},
                }
            )
            integrity.append(
                {
                    "month": month,
                    "site": key[0],
                    "vendor": key[1],
                    "received": n,
                    "excluded": excluded,
                    "exclusion_rate": None if missing else excluded / n,
                    "duplicates": dup,
                    "missing_batch": missing,
                    "p_value": None if missing else 0.5,
                    "alarm": False,
                    "detail": "no batch received"
                    if missing
                    else ("1 duplicate SOP Instance UID" if dup else ""),
                }
            )
            for variable, test, effect in (
                ("age", "ks", "psi"),
                ("bmi", "ks", "psi"),
                ("sex", "chi2", "cramers_v"),
            ):
                drift.append(
                    {
                        "month": month,
                        "site": key[0],
                        "vendor": key[1],
                        "variable": variable,
                        "test": test,
                        "statistic": None if missing else float(rng.uniform(0.05, 0.2)),
                        "p_value": None if missing else float(rng.uniform(0.05, 0.9)),
                        "effect": effect,
                        "effect_size": None if missing else float(rng.uniform(0.01, 0.15)),
                        "n": n,
                        "alarm": False,
                    }
                )
                if key == ("s01", "GE") and month == "2027-05" and variable == "bmi":
                    # a material change whose test does not reject: no alarm
                    drift[-1].update(statistic=0.26, p_value=0.2, effect_size=0.31)
            labelled = 0 if missing else (3 if month not in pending else MONTHS.index(month) % 2)
            bias = (1.62 if up else 0.15) if labelled else None
            miss = up and labelled > 0
            performance.append(
                {
                    "month": month,
                    "site": key[0],
                    "vendor": key[1],
                    "labelled": labelled,
                    "bias": bias,
                    "bias_ci": [bias - 0.5, bias + 0.5] if bias is not None else [None, None],
                    "loa_low": bias - 1.8 if bias is not None else None,
                    "loa_low_ci": _around(bias - 1.8, 0.9) if bias is not None else [None, None],
                    "loa_high": bias + 1.8 if bias is not None else None,
                    "loa_high_ci": _around(bias + 1.8, 0.9) if bias is not None else [None, None],
                    "sensitivity": 1.0 if labelled else None,
                    "sensitivity_ci": [0.21, 1.0] if labelled else [None, None],
                    "specificity": 0.5 if labelled > 1 else None,
                    "specificity_ci": [0.09, 0.91] if labelled > 1 else [None, None],
                    "goal_missed": ["ivsd-bias"] if miss else [],
                    "known_at_release": [],
                    "alarm_metrics": ["ivsd-bias"] if miss else [],
                    "alarm": miss,
                    "model_version": RELEASED,
                }
            )
        cus, ewm = _cusum(z_mean), _ewma(z_rate)
        series[key] = {
            "output_mean": [
                {
                    "month": m,
                    "n": n,
                    "mean": x,
                    "z": z,
                    "upper": c[0],
                    "lower": c[1],
                    "limit": H,
                    "shift_mm": None if x is None else x - mu0[key],
                    "chart_signal": c[2],
                    "alarm": c[2],
                    "model_version": RELEASED,
                    "epoch_start": False,
                }
                for m, n, x, z, c in zip(MONTHS, ns, means, z_mean, cus, strict=True)
            ],
            "output_positive_rate": [
                {
                    "month": m,
                    "n": n,
                    "rate": r,
                    "z": z,
                    "ewma": e[0],
                    "limit": e[1],
                    "rate_change": None if r is None else r - p0,
                    "chart_signal": e[2],
                    "alarm": e[2],
                    "model_version": RELEASED,
                    "epoch_start": False,
                }
                for m, n, r, z, e in zip(MONTHS, ns, rates, z_rate, ewm, strict=True)
            ],
        }
    mu_pool = sum(mu0.values()) / len(mu0)
    z_pool = [
        (pooled_sum[m] / pooled_n[m] - mu_pool) / (sd0 / math.sqrt(pooled_n[m])) for m in MONTHS
    ]
    r_pool = [pooled_pos[m] / pooled_n[m] for m in MONTHS]
    zr_pool = [
        (r - p0) / math.sqrt(p0 * (1 - p0) / pooled_n[m])
        for r, m in zip(r_pool, MONTHS, strict=True)
    ]
    # the pooled stream is flattened so that only the segment alarms (as a large pool dilutes it)
    z_pool = [0.3 * z for z in z_pool]
    series[("*", "*")] = {
        "output_mean": [
            {
                "month": m,
                "n": pooled_n[m],
                "mean": mu_pool + z * sd0 / math.sqrt(pooled_n[m]),
                "z": z,
                "upper": c[0],
                "lower": c[1],
                "limit": H,
                "shift_mm": z * sd0 / math.sqrt(pooled_n[m]),
                "chart_signal": c[2],
                "alarm": c[2],
                "model_version": "",
                "epoch_start": False,
            }
            for m, z, c in zip(MONTHS, z_pool, _cusum(z_pool), strict=True)
        ],
        "output_positive_rate": [
            {
                "month": m,
                "n": pooled_n[m],
                "rate": r,
                "z": z,
                "ewma": e[0],
                "limit": e[1],
                "rate_change": r - p0,
                "chart_signal": e[2],
                "alarm": e[2],
                "model_version": "",
                "epoch_start": False,
            }
            for m, r, z, e in zip(MONTHS, r_pool, zr_pool, _ewma(zr_pool), strict=True)
        ],
    }
    for month in MONTHS:
        drift.append(
            {
                "month": month,
                "site": "*",
                "vendor": "*",
                "variable": "age",
                "test": "ks",
                "statistic": 0.06,
                "p_value": 0.0001 if month == "2027-02" else 0.4,
                "effect": "psi",
                "effect_size": 0.04,
                "n": pooled_n[month],
                "alarm": False,
            }
        )
        labelled = sum(p["labelled"] for p in performance if p["month"] == month)
        performance.append(
            {
                "month": month,
                "site": "*",
                "vendor": "*",
                "labelled": labelled,
                "bias": 0.31 if labelled else None,
                "bias_ci": [0.02, 0.6] if labelled else [None, None],
                "loa_low": -1.9 if labelled else None,
                "loa_low_ci": [-2.4, -1.5] if labelled else [None, None],
                "loa_high": 2.5 if labelled else None,
                "loa_high_ci": [2.1, 3.0] if labelled else [None, None],
                "sensitivity": 0.86 if labelled else None,
                "sensitivity_ci": [0.6, 0.96] if labelled else [None, None],
                "specificity": 0.9 if labelled else None,
                "specificity_ci": [0.75, 0.97] if labelled else [None, None],
                "goal_missed": [],
                "known_at_release": [],
                "alarm_metrics": [],
                "alarm": False,
                "model_version": "",
            }
        )
    alerts = []
    if shift:
        key = (shift["site"], shift["vendor"])
        mean_rows = series[key]["output_mean"]
        alarmed = [r for r in mean_rows if r["alarm"]]
        assert alarmed, "the planted shift must alarm the CUSUM"
        upgraded = _version(key[1], True)
        n_new = sum(
            r["software_versions"].get(upgraded, 0)
            for r in census
            if (r["site"], r["vendor"]) == key
        )
        perf = [p for p in performance if (p["site"], p["vendor"]) == key and p["alarm"]]
        alerts = [
            {
                "site": key[0],
                "vendor": key[1],
                "signal": "header",
                "model_version": RELEASED,
                "onset": shift["month"],
                "statistic": n_new,
                "threshold": 0,
                "evidence": (
                    f"software_versions '{upgraded}' never seen in the baseline ({n_new} studies)"
                ),
                "months": [m for m in MONTHS if m >= shift["month"]],
                "variables": ["header"],
            },
            {
                "site": key[0],
                "vendor": key[1],
                "signal": "output_mean",
                "model_version": RELEASED,
                "onset": alarmed[0]["month"],
                "statistic": alarmed[0]["upper"],
                "threshold": H,
                "evidence": f"upper CUSUM {alarmed[0]['upper']:.2f} > h = {H:.2f}; monthly mean "
                f"{alarmed[0]['mean']:.2f} mm against baseline {mu0[key]:.2f} mm",
                "months": [r["month"] for r in alarmed],
                "variables": ["measurement"],
            },
            {
                "site": key[0],
                "vendor": key[1],
                "signal": "performance",
                "model_version": RELEASED,
                "onset": perf[0]["month"],
                "statistic": perf[0]["bias_ci"][0],
                "threshold": 1.0,
                "evidence": "bias 95% CI 1.12 to 2.12 mm lies above the goal's upper bound 1.0 mm",
                "months": [p["month"] for p in perf],
                "variables": ["bias-change", "ivsd-bias"],
            },
        ]
    m_streams = (len(keys) + 1) * 6
    alpha = 0.05
    bias_streams = len(keys) + 1 if bias_change else 0
    per_stream = alpha / (m_streams + BIAS_WEIGHT * bias_streams)
    for row in performance:  # intervals shown at the protocol's level, alarms at the per-test one
        row.update(confidence=0.95, alarm_confidence=1 - per_stream / 12)
    agreement: dict[tuple[str, str], dict[str, Any] | None] = {
        k: None if k == NO_AGREEMENT else _agreement(50, 0.10 + 0.03 * i)
        for i, k in enumerate(keys)
    }
    agreement[("*", "*")] = _agreement(50 * len(keys), 0.2)
    if bias_change:
        statement = (
            f"At most {alpha} probability of any false alarm over all "
            f"{m_streams + bias_streams} monitored streams within 12 months (weighted "
            f"Bonferroni): each of the {bias_streams} audited-bias streams gets "
            f"{BIAS_WEIGHT * per_stream:.3g} (weight {BIAS_WEIGHT:g}), each of the other "
            f"{m_streams} streams {per_stream:.3g}; in-control ARL >= 100 months."
        )
        weighted = {
            "bias_streams": bias_streams,
            "bias_weight": BIAS_WEIGHT,
            "bias_alpha": BIAS_WEIGHT * per_stream,
            "materiality": {"min_shift": MIN_SHIFT, "min_rate_change": 0.1},
            "performance": {
                "alarm_confidence": 1 - per_stream / 12,
                "bias_change_alpha": BIAS_WEIGHT * per_stream,
            },
        }
    else:
        statement = (
            f"Family-wise false-alarm probability <= {alpha} over {m_streams} streams and "
            f"12 months (Bonferroni, {alpha / m_streams:.5f} per stream); in-control ARL >= "
            "100 months."
        )
        weighted = {}
        for a in alerts:
            a.pop("variables")
    received = sum(p["labelled"] for p in performance if p["site"] != "*")
    data = {
        "schema_version": 1,
        "created_utc": "2027-07-02T06:00:00Z",
        "run_id": "MVAL-SURV-demo-5e1f0c2a",
        "as_of": "2027-06",
        "months": MONTHS,
        "protocol": {
            "id": "demo",
            "version": "1.0.0",
            "sha256": "ab" * 32,
            "threshold": THRESHOLD,
            "outputs": {
                "measurement": {"name": "ivsd", "label": "IVSd", "unit": "mm", "precision": 1},
                "finding": {"name": "lvh", "label": "LVH", "threshold": THRESHOLD},
            },
            "goals": [
                {
                    "id": "ivsd-bias",
                    "metric": "bias",
                    "goal": {"lower": -1.0, "upper": 1.0},
                    "label": "IVSd mean bias (model \u2212 reference)",
                },
                {
                    "id": "ivsd-loa-lower",
                    "metric": "loa_low",
                    "goal": {"lower": -3.0},
                    "label": "IVSd lower 95% limit of agreement",
                },
                {
                    "id": "ivsd-loa-upper",
                    "metric": "loa_high",
                    "goal": {"upper": 3.0},
                    "label": "IVSd upper 95% limit of agreement",
                },
                {
                    "id": "lvh-sensitivity",
                    "metric": "sensitivity",
                    "goal": {"lower": 0.75},
                    "label": "LVH sensitivity",
                },
                {
                    "id": "lvh-specificity",
                    "metric": "specificity",
                    "goal": {"lower": 0.80},
                    "label": "LVH specificity",
                },
            ],
        },
        "model": {
            "name": "ivsd-cnn",
            "version": RELEASED,
            "sha256": MODEL_SHA256,
            "matches_baseline": True,
            "versions": [
                {
                    "version": RELEASED,
                    "sha256": MODEL_SHA256,
                    "predictions": sum(r["predicted"] for r in census),
                }
            ],
        },
        "deployments": {
            "released_version": RELEASED,
            "epochs": [
                {
                    "site": site,
                    "epoch": 0,
                    "model_version": RELEASED,
                    "start": MONTHS[0],
                    "end": MONTHS[-1],
                }
                for site in sites
            ],
            "events": [],
            "extra_streams": 0,
            "extra_bias_streams": 0,
        },
        "baseline": {
            "path": "baseline.json",
            "sha256": "ef" * 32,
            "created_utc": "2026-07-01T06:00:00Z",
            "sources": [
                {"path": "results/demo/analysis/analysed.csv", "sha256": "01" * 32},
                {"path": "results/demo/analysis/results.json", "sha256": "02" * 32},
                {"path": "results/demo/ingest/accounting.csv", "sha256": "03" * 32},
            ],
            "segments": [
                {
                    "site": k[0],
                    "vendor": k[1],
                    "n": 50,
                    "mean_measurement": mu0[k],
                    "sd_measurement": sd0,
                    "positive_rate": p0,
                    "exclusion_rate": 0.04,
                    "software_versions": [_version(k[1], False)],
                    "scanner_models": [f"{k[1]} Model A"],
                    **({"agreement": agreement[k]} if bias_change else {}),
                }
                for k in keys
            ]
            + [
                {
                    "site": "*",
                    "vendor": "*",
                    "n": 50 * len(keys),
                    "mean_measurement": mu_pool,
                    "sd_measurement": sd0,
                    "positive_rate": p0,
                    "exclusion_rate": 0.04,
                    "software_versions": sorted({_version(k[1], False) for k in keys}),
                    "scanner_models": sorted({f"{k[1]} Model A" for k in keys}),
                    **({"agreement": agreement[("*", "*")]} if bias_change else {}),
                }
            ],
            "premarket": [
                {"id": "ivsd-bias", "metric": "bias", "estimate": 0.21, "ci_low": 0.08}
                | {"ci_high": 0.34, "verdict": "PASS"},
                {"id": "ivsd-loa-lower", "metric": "loa_low", "estimate": -1.92, "ci_low": -2.15}
                | {"ci_high": -1.71, "verdict": "PASS"},
                {"id": "ivsd-loa-upper", "metric": "loa_high", "estimate": 2.34, "ci_low": 2.13}
                | {"ci_high": 2.57, "verdict": "PASS"},
                {"id": "lvh-sensitivity", "metric": "sensitivity", "estimate": 0.9}
                | {"ci_low": 0.84, "ci_high": 0.94, "verdict": "PASS"},
                {"id": "lvh-specificity", "metric": "specificity", "estimate": 0.93}
                | {"ci_low": 0.9, "ci_high": 0.95, "verdict": "PASS"},
            ],
            "released_version": RELEASED,
            "versions": [],
        },
        "false_alarm": {
            "familywise_alpha": alpha,
            "streams": m_streams,
            "per_stream_alpha": per_stream,
            "per_test_alpha": per_stream / 12,
            "horizon_months": 12,
            "arl0_min": 100,
            "charts": {
                "cusum": {"k": K, "h": H, "arl0": 1436.2, "p_within_horizon": 0.00161},
                "ewma": {"lam": LAM, "L": L, "arl0": 1210.7, "p_within_horizon": 0.00158},
            },
            "drift": {
                "alpha": per_stream,
                "psi_min": 0.25,
                "ks_d_min": 0.2,
                "cramers_v_min": 0.2,
            },
            "integrity": {"alpha": per_stream / 12, "exclusion_margin": 0.1},
            "statement": statement,
            "limits": "known",
            "calibration": {
                "method": "known-parameter Markov-chain limits (the baseline taken as exact)",
                "draws": 0,
                "seed": 20261125,
                "floor": {"h": H, "L": L},
                "segments": [
                    {
                        "site": k[0],
                        "vendor": k[1],
                        "n0": 50.0 * (len(keys) if k == ("*", "*") else 1),
                        "monthly_n": [r["n"] for r in series[k]["output_mean"]],
                        "h": H,
                        "L": L,
                        "model_version": "" if k == ("*", "*") else RELEASED,
                    }
                    for k in [*keys, ("*", "*")]
                ],
            },
            "baseline_error": None,
            **weighted,
        },
        "census": census,
        "segments": [
            {
                "site": k[0],
                "vendor": k[1],
                "series": series[k],
                "model_versions": [] if k == ("*", "*") else [RELEASED],
            }
            for k in [*keys, ("*", "*")]
        ],
        "integrity": integrity,
        "header_changes": [
            {
                "site": shift["site"],
                "vendor": shift["vendor"],
                "field": "SoftwareVersions",
                "value": _version(shift["vendor"], True),
                "first_month": shift["month"],
                "n": alerts[0]["statistic"],
            }
        ]
        if shift
        else [],
        "drift": drift,
        "performance": performance,
        "labels": {
            "received": received,
            "matched": received,
            "unmatched": 0,
            "by_lag_months": {"1": 40, "2": 38, "3": 19},
            "max_lag_months": 3,
            "pending_months": pending,
        },
        "alerts": alerts,
        "status": "ALARM" if alerts else "NO ALARM",
    }
    if bias_change:
        data["bias_change"] = _bias_change(performance, agreement, BIAS_WEIGHT * per_stream)
    validate_document(data, "surveillance", source="build_surveillance()")
    return data


def write_run(folder: Path, data: dict[str, Any], *, with_alerts: bool = True) -> Path:
    """Write ``surveillance.json`` (and ``alerts.json``) as ``mval monitor run`` would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "surveillance.json"
    path.write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")
    if with_alerts:
        (folder / "alerts.json").write_text(json.dumps(data["alerts"], indent=2), encoding="utf-8")
    return path
