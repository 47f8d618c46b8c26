"""The post-market surveillance report renders ``surveillance.json`` into an archival PDF.

The input is a synthetic ``surveillance.json`` built here (:func:`build_surveillance`) following
the contract of the surveillance design exactly: 2 sites x 2 vendors and the pooled segment over
12 months, with one alarmed segment (s02 / GE: a scanner software upgrade in 2027-01 that shifts
the model's measurements by +1.5 mm, raising a header alert, a CUSUM alert on the monthly mean
and a performance alert on the audited bias), a missing batch, a duplicate file, drift tests of
which one rejects on a trivial effect, and months still awaiting labels. The change of the audited
bias since validation (``bias_change``) alarms in s02 / GE from 2027-02, s01 / Philips has no
agreement record (not assessed), and the false-alarm plan gives the audited-bias streams weight 4.
The chart statistics in the fixture are computed by the textbook recursions written out here
(tabular CUSUM, Page 1954; EWMA with exact limits, Lucas & Saccucci 1990; the audited-bias T of
``validation.surveillance.bias_change``): the report draws them and must not recompute them.
No published reference values are involved: the tests check that what the JSON says is what the
PDF shows (section titles, every alert row, the stated false-alarm rate, attachments, PDF/A-3b).
"""

from __future__ import annotations

import copy
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib.colors
import numpy as np
import pypdf
import pytest

from validation.exceptions import ReportError
from validation.report.filters import count, mm, num, pct
from validation.surveillance import figures
from validation.surveillance.report import (
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    SECTIONS,
    build_surveillance_context,
    check_surveillance,
    prob,
    render_surveillance_html,
    render_surveillance_report,
)

PROJECT = Path(__file__).resolve().parents[2]

SECTION_TITLES = tuple(title for _, title, _, _ in SECTIONS)

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


# ---------------------------------------------------------------------------------------------
# Fixture builder: a surveillance.json following the contract
# ---------------------------------------------------------------------------------------------


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
            }
        )
        months += _bias_records(rows, agr, limit)
    return {
        "windows_months": list(WINDOWS),
        "alpha": alpha,
        "lag_probabilities": lags,
        "segments": segments,
        "months": months,
        "power": {
            "segment": "median segment",
            "n0": 50,
            "audited_per_month": 3,
            "sd_mm": 0.8,
            "limit": BIAS_LIMIT,
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
                    "software_versions": {} if missing else {_version(key[1], up): n},
                }
            )
            dup = 1 if key == ("s02", "Siemens") and month == "2027-03" else 0
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
                    "loa_high": bias + 1.8 if bias is not None else None,
                    "sensitivity": 1.0 if labelled else None,
                    "sensitivity_ci": [0.21, 1.0] if labelled else [None, None],
                    "specificity": 0.5 if labelled > 1 else None,
                    "specificity_ci": [0.09, 0.91] if labelled > 1 else [None, None],
                    "goal_missed": ["ivsd-bias"] if miss else [],
                    "alarm": miss,
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
                    "alarm": c[2],
                }
                for m, n, x, z, c in zip(MONTHS, ns, means, z_mean, cus, strict=True)
            ],
            "output_positive_rate": [
                {"month": m, "n": n, "rate": r, "z": z, "ewma": e[0], "limit": e[1], "alarm": e[2]}
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
                "alarm": c[2],
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
                "alarm": e[2],
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
                "loa_high": 2.5 if labelled else None,
                "sensitivity": 0.86 if labelled else None,
                "sensitivity_ci": [0.6, 0.96] if labelled else [None, None],
                "specificity": 0.9 if labelled else None,
                "specificity_ci": [0.75, 0.97] if labelled else [None, None],
                "goal_missed": [],
                "alarm": False,
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
                "onset": alarmed[0]["month"],
                "statistic": alarmed[0]["upper"],
                "threshold": H,
                "evidence": f"upper CUSUM {alarmed[0]['upper']:.2f} > h = {H:.2f}; monthly mean "
                f"{alarmed[0]['mean']:.2f} mm against baseline {mu0[key]:.2f} mm",
                "months": [r["month"] for r in alarmed],
                "variables": ["ivsd_mm"],
            },
            {
                "site": key[0],
                "vendor": key[1],
                "signal": "performance",
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
    agreement: dict[tuple[str, str], dict[str, Any] | None] = {
        k: None if k == NO_AGREEMENT else {"n": 50, "bias": 0.10 + 0.03 * i, "sd": 0.8}
        for i, k in enumerate(keys)
    }
    agreement[("*", "*")] = {"n": 50 * len(keys), "bias": 0.2, "sd": 0.8}
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
            "materiality": {"min_shift_mm": MIN_SHIFT, "min_rate_change": 0.1},
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
    data = {
        "schema_version": 1,
        "created_utc": "2027-07-02T06:00:00Z",
        "as_of": "2027-06",
        "months": MONTHS,
        "protocol": {
            "id": "demo",
            "version": "1.0.0",
            "sha256": "ab" * 32,
            "threshold": THRESHOLD,
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
        "model": {"name": "ivsd-cnn", "version": "1.0.0", "sha256": "cd" * 32},
        "baseline": {
            "path": "baseline.json",
            "sha256": "ef" * 32,
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
                    "mean_ivsd": mu0[k],
                    "sd_ivsd": sd0,
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
                    "mean_ivsd": mu_pool,
                    "sd_ivsd": sd0,
                    "positive_rate": p0,
                    "exclusion_rate": 0.04,
                    "software_versions": sorted({_version(k[1], False) for k in keys}),
                    "scanner_models": sorted({f"{k[1]} Model A" for k in keys}),
                    **({"agreement": agreement[("*", "*")]} if bias_change else {}),
                }
            ],
        },
        "false_alarm": {
            "familywise_alpha": alpha,
            "streams": m_streams,
            "per_stream_alpha": per_stream,
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
            "statement": statement,
            **weighted,
        },
        "census": census,
        "segments": [
            {"site": k[0], "vendor": k[1], "series": series[k]} for k in [*keys, ("*", "*")]
        ],
        "integrity": integrity,
        "header_changes": [
            {
                "site": shift["site"],
                "vendor": shift["vendor"],
                "field": "software_versions",
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
            "received": sum(p["labelled"] for p in performance if p["site"] != "*"),
            "by_lag_months": {"1": 40, "2": 38, "3": 19},
            "pending_months": pending,
        },
        "alerts": alerts,
        "status": "ALARM" if alerts else "NO ALARM",
    }
    if bias_change:
        data["bias_change"] = _bias_change(performance, agreement, BIAS_WEIGHT * per_stream)
    return data


def write_run(folder: Path, data: dict[str, Any], *, with_alerts: bool = True) -> Path:
    """Write ``surveillance.json`` (and ``alerts.json``) as ``mval monitor run`` would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "surveillance.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    if with_alerts:
        (folder / "alerts.json").write_text(json.dumps(data["alerts"], indent=2), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(str(path))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


class _TableRows(HTMLParser):
    """The text of every cell of the body rows of the tables with a given class."""

    def __init__(self, table_class: str) -> None:
        super().__init__()
        self.table_class = table_class
        self.depth = 0
        self.in_body = False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and (self.depth or self.table_class in classes):
            self.depth += 1
        elif self.depth == 1 and tag == "tbody":
            self.in_body = True
        elif self.depth == 1 and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth == 1 and self.in_body and tag == "td":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "tbody":
            self.in_body = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def _rows(html: str, table_class: str) -> list[list[str]]:
    parser = _TableRows(table_class)
    parser.feed(html)
    return parser.rows


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return build_surveillance()


@pytest.fixture(scope="module")
def run(data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("surveillance")
    source = write_run(folder, data)
    out = render_surveillance_report(source, folder / "surveillance-report.pdf")
    return {**out, "json": source, "alerts": folder / "alerts.json"}


@pytest.fixture(scope="module")
def text(run: dict[str, Path]) -> str:
    return _pdf_text(run["pdf"])


@pytest.fixture(scope="module")
def html(run: dict[str, Path]) -> str:
    return run["html"].read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# the document
# ---------------------------------------------------------------------------------------------


def test_writes_pdf_and_html_beside_it(run: dict[str, Path]) -> None:
    pdf, page = run["pdf"], run["html"]
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    assert page == pdf.with_suffix(".html") and page.is_file()
    markup = page.read_text(encoding="utf-8")
    assert '<body class="surveillance status-alarm">' in markup
    assert markup.count("data:image/svg+xml;base64,") >= 6  # CUSUM, EWMA, drift, bias, T, alert


def test_every_section_is_in_the_pdf_and_its_outline(run: dict[str, Path], text: str) -> None:
    for title in SECTION_TITLES:
        assert title in text, title
    reader = pypdf.PdfReader(str(run["pdf"]))

    def titles(items: list) -> list[str]:
        out: list[str] = []
        for item in items:
            out.extend(titles(item) if isinstance(item, list) else [item.title])
        return out

    bookmarks = titles(reader.outline)
    for title in SECTION_TITLES:
        assert any(title in b for b in bookmarks), title


def test_pages_have_running_header_status_and_page_x_of_y(run: dict[str, Path], data: dict) -> None:
    reader = pypdf.PdfReader(str(run["pdf"]))
    n = len(reader.pages)
    assert n > 8
    first, last = reader.pages[0].extract_text(), reader.pages[-1].extract_text()
    assert f"Page 1 of {n}" in first and f"Page {n} of {n}" in last
    assert "SURV-demo-2027-06" in last  # report id in the running header
    assert "Status: ALARM" in last  # the status in the running footer


def test_pdf_declares_pdf_a_3b(run: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(run["pdf"]))
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "/OutputIntents" in reader.trailer["/Root"]


def test_surveillance_and_alerts_json_are_embedded(run: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(run["pdf"]))
    attached = {name: content[0] for name, content in reader.attachments.items()}
    assert attached == {
        "surveillance.json": run["json"].read_bytes(),
        "alerts.json": run["alerts"].read_bytes(),
    }
    assert len({ref.idnum for ref in reader.trailer["/Root"]["/AF"]}) == 2


def test_control_block_shows_hashes_in_full(text: str, data: dict) -> None:
    flat = _squash(text)
    for digest in (data["protocol"]["sha256"], data["model"]["sha256"], data["baseline"]["sha256"]):
        assert digest in flat
    for source in data["baseline"]["sources"]:
        assert source["sha256"] in flat
    assert "Data as of 2027-06" in text and "2026-07 to 2027-06" in text
    assert "mval " in text


def test_alert_rows_equal_the_json(html: str, text: str, data: dict) -> None:
    names = {
        "header": "DICOM header change",
        "output_mean": "Output drift: mean IVSd (CUSUM)",
        "performance": "Performance on the audited subset",
    }
    digits = {"header": 0}
    expected = [
        [
            str(i + 1),
            figures.segment_label(a["site"], a["vendor"]),
            names[a["signal"]],
            a["onset"],
            num(a["statistic"], digits.get(a["signal"], 2)),
            num(a["threshold"], digits.get(a["signal"], 2)),
            a["evidence"],
        ]
        for i, a in enumerate(data["alerts"])
    ]
    assert _rows(html, "sv-alerts") == expected
    flat = _squash(text)
    for row in expected:
        assert _squash("".join(row[1:])) in flat, row  # the same row, in order, in the PDF


def test_status_and_stated_false_alarm_rate(text: str, data: dict) -> None:
    fa = data["false_alarm"]
    assert "ALARM" in text
    flat = _squash(text)
    assert _squash(f"at most {pct(fa['familywise_alpha'], 1)}") in flat
    assert (
        _squash(
            f"Every month {fa['streams']} streams of weight 1 and {fa['bias_streams']} "
            "audited-bias streams are checked"
        )
        in flat
    )
    assert _squash(f"h = {num(fa['charts']['cusum']['h'], 3)}") in flat
    assert _squash(f"L = {num(fa['charts']['ewma']['L'], 3)}") in flat
    assert _squash(fa["statement"]) in flat


def test_census_counts_and_new_software_version(html: str, data: dict) -> None:
    ge = next(r for r in _rows(html, "sv-matrix") if r[0] == "s02 \u00b7 GE")
    assert ge[1:13] == ["10"] * 12 and ge[13] == "120"
    philips = next(r for r in _rows(html, "sv-matrix") if r[0] == "s01 \u00b7 Philips")
    assert philips[1 + MONTHS.index("2026-11")] == "\u2013"  # the missing batch
    versions = _rows(html, "sv-versions")
    upgrade = next(r for r in versions if r[1].startswith("GE v1.0 upgrade"))
    assert upgrade[0] == "s02 \u00b7 GE" and upgrade[1].endswith("new")


def test_performance_shows_goal_missed_and_pending_months(text: str, html: str, data: dict) -> None:
    assert "Months still awaiting labels: 2027-04, 2027-05, 2027-06" in " ".join(text.split())
    flagged = _rows(html, "sv-perf")
    alarmed = [r for r in flagged if r[0] == "s02 \u00b7 GE" and "alarm" in r[-1]]
    assert alarmed and all("\u2717" in r[3] for r in alarmed)  # the bias cell marks the goal missed
    assert {r[1] for r in alarmed} >= {"2027-01", "2027-02", "2027-03"}


def test_drift_separates_rejection_from_material_change(html: str) -> None:
    rows = _rows(html, "sv-drift")
    # the pooled age test rejects on a trivial effect (large sample): listed, not material, no alarm
    assert [r[:2] for r in rows] == [["2027-02", "All sites and vendors"]]
    trivial = rows[0]
    assert trivial[5].startswith("< 0.001*") and trivial[8] == "no"
    assert trivial[7] == "no (KS D \u2265 0.20 and PSI \u2265 0.25)"
    # s01 / GE's BMI in 2027-05 is a material change whose test does not reject: counted only
    summary = {r[0]: r for r in _rows(html, "sv-drift-summary")}
    assert summary["BMI"][2] == "KS D \u2265 0.20 and PSI \u2265 0.25"
    assert summary["BMI"][4:7] == ["0", "1", "0"]  # rejected, material, alarms
    assert summary["Age"][4:7] == ["1", "0", "0"]
    assert summary["Sex"][2] == "Cram\u00e9r's V \u2265 0.20"


# ---------------------------------------------------------------------------------------------
# the change of the audited bias since validation
# ---------------------------------------------------------------------------------------------


def _bias_segments(data: dict) -> dict[tuple[str, str], dict[str, Any]]:
    """Per segment (report order): its agreement, calibration and monthly records."""
    bc = data["bias_change"]
    keys = [(s["site"], s["vendor"]) for s in data["segments"]]
    keys = sorted(keys, key=lambda k: (k == ("*", "*"), k))
    agreement = {(s["site"], s["vendor"]): s.get("agreement") for s in data["baseline"]["segments"]}
    return {
        k: {
            "agreement": agreement[k],
            "calibration": next((c for c in bc["segments"] if (c["site"], c["vendor"]) == k), None),
            "months": [r for r in bc["months"] if (r["site"], r["vendor"]) == k],
        }
        for k in keys
    }


def test_bias_change_subsection_states_the_statistic(text: str, data: dict) -> None:
    flat = " ".join(text.split())
    assert "8.2 Change of the audited bias since validation" in flat
    assert "counts the validation study's own sampling error" in flat
    assert "T is read by month of acquisition" in flat
    assert f"at least {mm(MIN_SHIFT, 1)} mm (the materiality gate)" in flat
    limits = [c["limit"] for c in data["bias_change"]["segments"]]
    assert f"limit (from {num(min(limits), 2)} to {num(max(limits), 2)})" in flat
    assert f"probability at most {prob(data['bias_change']['alpha'])}" in flat


def test_bias_change_table_equals_the_json(html: str, text: str, data: dict) -> None:
    expected = []
    for (site, vendor), seg in _bias_segments(data).items():
        agr, cal, months = seg["agreement"], seg["calibration"], seg["months"]
        label = figures.segment_label(site, vendor)
        if cal is None:
            expected.append(
                [
                    label,
                    *["n/a"] * 5,
                    "none",
                    "none",
                    "n/a",
                    "n/a",
                    "not assessed: no agreement record in the validation baseline",
                ]
            )
            continue
        peak = max(months, key=lambda r: abs(r["t"]))
        window = MONTHS.index(peak["month"]) - MONTHS.index(peak["window_start"]) + 1
        alarms = [r["month"] for r in months if r["alarm"]]
        expected.append(
            [
                label,
                mm(agr["bias"], sign=True),
                mm(agr["sd"]),
                count(cal["n0"]),
                count(cal["audited_per_month"]),
                num(peak["t"], 2),
                peak["month"],
                str(window),
                mm(peak["change_mm"], sign=True),
                num(cal["limit"], 2),
                f"\u2717 ALARM from {alarms[0]}" if alarms else "no alarm",
            ]
        )
    rows = _rows(html, "sv-bias-change")
    assert rows == expected
    shifted = next(r for r in rows if r[0] == "s02 \u00b7 GE")
    assert shifted[-1] == "\u2717 ALARM from 2027-02" and shifted[6:8] == ["2027-03", "3"]
    flat = _squash(text)
    for row in expected:
        assert _squash("".join(row)) in flat, row  # the same row, in order, in the PDF


def test_bias_change_figure_draws_t_limits_alarms_and_pending(html: str, data: dict) -> None:
    assert 'id="fig-bias-change"' in html
    segs = _bias_segments(data)
    limits = {k: s["calibration"]["limit"] for k, s in segs.items() if s["calibration"] is not None}
    records = data["bias_change"]["months"]
    pending = data["labels"]["pending_months"]
    fig = figures.bias_change_figure(
        records, MONTHS, keys=list(segs), limits=limits, pending=pending
    )
    panels = {ax.get_title(loc="left").split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {figures.segment_label(*k) for k in segs}
    alarmed = panels["s02 \u00b7 GE"]
    assert alarmed.get_title(loc="left").endswith("ALARM from 2027-02")
    assert matplotlib.colors.same_color(alarmed.spines["left"].get_edgecolor(), figures.FAIL)
    for key, ax in panels.items():
        if key != "s02 \u00b7 GE":
            assert "ALARM" not in ax.get_title(loc="left")
    # the signed T of the JSON, and the limits dashed at plus and minus the segment's limit
    series = [ln for ln in alarmed.get_lines() if len(ln.get_xdata()) == len(MONTHS)]
    t = {r["month"]: r["t"] for r in records if (r["site"], r["vendor"]) == ("s02", "GE")}
    assert np.allclose(series[0].get_ydata(), [t[m] for m in MONTHS])
    for key, limit in limits.items():
        ax = panels[figures.segment_label(*key)]
        dashed = [
            ln
            for ln in ax.get_lines()
            if ln.get_linestyle() == "--" and ln.get_xdata()[0] != ln.get_xdata()[-1]
        ]  # horizontal dashed lines (the onset line is vertical)
        assert {round(float(ln.get_ydata()[0]), 6) for ln in dashed} == {limit, -limit}
    # the months awaiting labels are hatched; the segment without agreement says so
    hatched = [c for c in alarmed.patches if c.get_hatch() == "///"]
    assert len(hatched) == len(pending)
    quiet = panels[figures.segment_label(*NO_AGREEMENT)]
    assert [t.get_text() for t in quiet.texts] == ["not assessed"]


def test_bias_change_power_table(html: str, text: str, data: dict) -> None:
    power = data["bias_change"]["power"]
    expected = [
        [mm(r["shift_mm"], 1)] + [pct(r["by_months_after_onset"][str(k)], 0) for k in range(4)]
        for r in power["rows"]
    ]
    assert _rows(html, "sv-power") == expected
    flat = " ".join(text.split())
    assert "What this plan can detect" in flat
    assert "By the onset month's run" in flat and "By +3 months" in flat
    assert f"Simulated ({count(power['draws'])} histories) for a segment of the stated size" in flat
    assert f"n0 = {power['n0']} validation studies" in flat.replace("n 0", "n0")
    without = copy.deepcopy(data)
    del without["bias_change"]["power"]
    markup = render_surveillance_html(build_surveillance_context(without))
    assert "sv-power" not in markup and "What this plan can detect" not in markup
    assert 'class="data sv-output sv-bias-change"' in markup


def test_false_alarm_states_the_weighted_split(html: str, text: str, data: dict) -> None:
    fa = data["false_alarm"]
    total = fa["streams"] + fa["bias_weight"] * fa["bias_streams"]
    flat = " ".join(text.split())
    assert (
        f"each audited-bias stream has weight {num(fa['bias_weight'], 0)} and every other "
        f"stream weight 1, a total weight of {num(total, 0)} ({fa['streams']} + "
        f"{num(fa['bias_weight'], 0)} \u00d7 {fa['bias_streams']})"
    ) in flat
    assert f"at most {prob(fa['per_stream_alpha'])} (0.05 / {num(total, 0)})" in flat
    assert f"each audited-bias stream {prob(fa['bias_alpha'])}" in flat
    expected = [
        [
            figures.segment_label(c["site"], c["vendor"]),
            count(c["n0"]),
            count(c["audited_per_month"]),
            num(c["limit"], 2),
            count(c["draws"]),
            str(c["seed"]),
        ]
        for c in sorted(
            data["bias_change"]["segments"],
            key=lambda c: (c["site"] == "*", c["site"], c["vendor"]),
        )
    ]
    assert _rows(html, "sv-bias-limits") == expected


def test_bias_change_alert_shows_its_months(html: str, data: dict) -> None:
    alert = data["alerts"][2]
    assert alert["signal"] == "performance" and "bias-change" in alert["variables"]
    records = [
        r for r in data["bias_change"]["months"] if (r["site"], r["vendor"]) == ("s02", "GE")
    ]
    shown = [r for r in records if r["alarm"] or r["month"] in alert["months"]]
    rows = _rows(html, "sv-bias-evidence")
    assert [r[0] for r in rows] == [r["month"] for r in shown]
    assert [r[6] for r in rows] == [num(r["t"], 2) for r in shown]
    assert [("alarm" in r[-1]) for r in rows] == [r["alarm"] for r in shown]
    # the bias panels of the premarket goals mark only the goal alerts
    context = build_surveillance_context(data)
    assert "s02 \u00b7 GE (from 2027-01)" in context["performance"]["figure"]["caption"]
    bias_only = copy.deepcopy(data)
    bias_only["alerts"][2]["variables"] = ["bias-change"]
    context = build_surveillance_context(bias_only)
    assert "Alarmed" not in context["performance"]["figure"]["caption"]
    assert "s02 \u00b7 GE (from 2027-02)" in context["bias_change"]["figure"]["caption"]
    assert not context["alerts"][2]["performance"] and context["alerts"][2]["bias_change"]


def test_report_without_bias_change_says_it_was_not_run(tmp_path: Path) -> None:
    data = build_surveillance(bias_change=False)
    assert "bias_change" not in data and "bias_streams" not in data["false_alarm"]
    source = write_run(tmp_path, data)
    out = render_surveillance_report(source, tmp_path / "surveillance-report.pdf")
    flat = " ".join(_pdf_text(out["pdf"]).split())
    assert "Change of the audited bias since validation" in flat
    assert "The change of the audited bias since validation was not run" in flat
    assert f"Every month {data['false_alarm']['streams']} monitoring streams are checked" in flat
    assert "audited-bias streams" not in flat and "Audited-bias limits" not in flat
    markup = out["html"].read_text(encoding="utf-8")
    assert "sv-bias-change" not in markup and "fig-bias-change" not in markup
    # an alert without recorded variables keeps its audited performance as evidence
    assert _rows(markup, "sv-perf") and not _rows(markup, "sv-bias-evidence")


# ---------------------------------------------------------------------------------------------
# the in-control variant, and bad input
# ---------------------------------------------------------------------------------------------


def test_no_alarm_report_without_alerts_file(tmp_path: Path) -> None:
    data = build_surveillance(shift=None)
    source = write_run(tmp_path, data, with_alerts=False)
    out = render_surveillance_report(source, tmp_path / "surveillance-report.pdf")
    text = _pdf_text(out["pdf"])
    assert "NO ALARM" in text and "No alerts were raised" in text
    assert "Status: NO ALARM" in pypdf.PdfReader(str(out["pdf"])).pages[-1].extract_text()
    reader = pypdf.PdfReader(str(out["pdf"]))
    assert set(reader.attachments) == {"surveillance.json"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["false_alarm"].pop("statement"), "false_alarm.statement"),
        (lambda d: d["alerts"][1].pop("onset"), r"alerts\[1\]\.onset"),
        (
            lambda d: d["segments"][0]["series"].pop("output_mean"),
            r"segments\[0\]\.series\.output_mean",
        ),
        (lambda d: d.update(schema_version=2), "schema_version expected one of"),
        (lambda d: d.update(status="OK"), "status expected one of ALARM, NO ALARM, got 'OK'"),
        (lambda d: d.update(status="NO ALARM"), "contradicts its 3 alert"),
        (lambda d: d["bias_change"]["months"][0].pop("t"), r"bias_change\.months\[0\]\.t"),
        (lambda d: d["bias_change"]["segments"][1].pop("limit"), r"bias_change\.segments\[1\]"),
    ],
)
def test_bad_input_is_named(data: dict, edit: Any, message: str) -> None:
    broken = copy.deepcopy(data)
    edit(broken)
    with pytest.raises(ReportError, match=message):
        check_surveillance(broken)


def test_missing_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="not found"):
        render_surveillance_report(tmp_path / "surveillance.json", tmp_path / "r.pdf")
    bad = tmp_path / "surveillance.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="not valid JSON"):
        render_surveillance_report(bad, tmp_path / "r.pdf")


def test_required_fields_cover_the_contract(data: dict) -> None:
    top = {path.split(".")[0].removesuffix("[]") for path in REQUIRED_FIELDS}
    assert top | set(OPTIONAL_FIELDS) == set(data)  # every top-level key of the contract
    assert top == set(build_surveillance(bias_change=False))  # the optional ones are optional


# ---------------------------------------------------------------------------------------------
# figures and templates
# ---------------------------------------------------------------------------------------------


def test_control_chart_marks_the_alarmed_segment_and_its_onset(data: dict) -> None:
    onset = data["alerts"][1]["onset"]
    fig = figures.control_chart_figure(
        data["segments"], MONTHS, signal="output_mean", onsets={("s02", "GE"): onset}, h=H
    )
    panels = {ax.get_title(loc="left").split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {
        "s01 \u00b7 GE",
        "s01 \u00b7 Philips",
        "s02 \u00b7 GE",
        "s02 \u00b7 Siemens",
        "All sites and vendors",
    }
    alarmed = panels["s02 \u00b7 GE"]
    assert alarmed.get_title(loc="left").endswith(f"ALARM from {onset}")
    assert matplotlib.colors.same_color(alarmed.spines["left"].get_edgecolor(), figures.FAIL)
    onset_x = MONTHS.index(onset)
    verticals = [ln for ln in alarmed.get_lines() if len(ln.get_xdata()) == 2]
    assert any(np.allclose(ln.get_xdata(), onset_x) for ln in verticals)  # the onset line
    for name, ax in panels.items():
        if name != "s02 \u00b7 GE":
            assert "ALARM" not in ax.get_title(loc="left")
            assert not matplotlib.colors.same_color(ax.spines["left"].get_edgecolor(), figures.FAIL)
    # the limits drawn are the JSON's limits, on the same axes in every panel
    assert len({ax.get_ylim() for ax in panels.values()}) == 1
    limits = [
        ln for ln in alarmed.get_lines() if ln.get_linestyle() == "--" and len(ln.get_xdata()) == 12
    ]
    levels = {round(float(y), 6) for ln in limits for y in ln.get_ydata()}
    assert levels == {H, -H}


def test_figures_are_svg_with_readable_text(data: dict) -> None:
    context = build_surveillance_context(data)
    made = [
        context["output"]["cusum_figure"],
        context["output"]["ewma_figure"],
        context["performance"]["figure"],
        context["drift"]["figure"],
        context["bias_change"]["figure"],
        *[a["figure"] for a in context["alerts"] if a["figure"]],
    ]
    assert len(made) == 6
    for fig in made:
        assert set(fig) == {"id", "src", "alt", "caption"} and len(fig["caption"]) > 80
        assert fig["src"].startswith("data:image/svg+xml;base64,")
    fig = figures.control_chart_figure(data["segments"], MONTHS, signal="output_positive_rate")
    sizes = [
        t.get_fontsize()
        for ax in fig.axes
        for t in [*ax.texts, ax.title, ax._left_title, *ax.get_xticklabels()]
    ]
    assert min(sizes) >= 7.0


def test_css_is_scoped_to_the_surveillance_body() -> None:
    css = (PROJECT / "reports" / "css" / "surveillance.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    selectors = [
        s.strip() for block in re.findall(r"([^{}]+)\{[^{}]*\}", css) for s in block.split(",")
    ]
    assert selectors
    assert all(s.startswith("body.surveillance") for s in selectors), [
        s for s in selectors if not s.startswith("body.surveillance")
    ]


def test_templates_format_every_number(data: dict) -> None:
    markup = render_surveillance_html(build_surveillance_context(data))
    body = re.sub(r"<(style|script)>.*?</\1>", "", markup, flags=re.S)
    body = re.sub(r'src="data:[^"]+"', "", body)
    visible = re.sub(r"<[^>]+>", " ", body)
    # per-stream levels such as 0.00064 need 5 decimals; an unformatted float shows many more
    raw = re.findall(r"(?<![\d.])\d+\.\d{6,}(?![\d.])", visible)
    assert not raw, raw[:5]
    assert "None" not in visible.split() and "nan" not in visible.split()
    tables = len(re.findall(r"<table class=\"(?:data|kv|signatures)", markup))
    assert tables == len(re.findall(r"<caption>", markup))


def test_engine_extras_are_used_when_present(data: dict) -> None:
    """Fields beyond the contract that the engine records: the CI level, the alarm level."""
    extended = copy.deepcopy(data)
    for row in extended["performance"]:
        row.update(confidence=0.9, alarm_confidence=0.9994)
    extended["model"].update(name=None, matches_baseline=False)
    markup = render_surveillance_html(build_surveillance_context(extended))
    assert "(90% CI)" in markup and "(95% CI)" not in markup
    assert "99.940% interval" in " ".join(markup.split())
    assert "does not match the validated model" in markup and "unknown model" in markup
    for row in extended["performance"][:1]:
        row["confidence"] = 0.95
    with pytest.raises(ReportError, match="mix confidence levels"):
        build_surveillance_context(extended)
