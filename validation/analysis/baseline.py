"""Baseline characteristics of the analysed studies, by site and by vendor, and the study period.

A reader of the evidence needs to know *whom* the device was tested on (STARD 2015 item 20,
FDA 2007 statistical guidance on diagnostic tests): age, sex, body-mass index and the
spectrum of disease (the reference measurement and the prevalence of the finding), overall and
in every site and vendor, and *when* the studies were acquired. These are descriptive summaries:
counts, means and standard deviations with pandas; the only interval, for the prevalence of the
finding, comes from
:func:`validation.stats.wilson_interval`. Undefined values (an SD of one study, a group
without ages) are ``None`` (JSON ``null``) and are shown as n/a in the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from validation.analysis.tables import require_columns
from validation.numbers import finite_or_none
from validation.stats import wilson_interval
from validation.stats._checks import check_confidence

#: Columns of the study table that :func:`baseline_characteristics` reads.
BASELINE_COLUMNS: tuple[str, ...] = (
    "site",
    "vendor",
    "sex",
    "age",
    "bmi",
    "image_quality",
    "patient_id",
    "reference",
    "label",
)
#: Image-quality grades in the order the report shows them; other grades follow, sorted.
QUALITY_ORDER: tuple[str, ...] = ("good", "adequate", "poor", "unknown")
#: Values of ``sex`` counted as female and as unknown.
FEMALE = "F"
UNKNOWN = ("", "unknown", "U", "O")


def _quality_levels(values: pd.Series) -> list[str]:
    present = set(values.astype(str))
    return [q for q in QUALITY_ORDER if q in present] + sorted(present - set(QUALITY_ORDER))


def _summary(values: pd.Series) -> dict[str, float | int | None]:
    """Mean, SD (n - 1), min, max and the number of non-missing values."""
    x = pd.to_numeric(values, errors="coerce").dropna()
    n = int(x.size)
    return {
        "n": n,
        "mean": finite_or_none(x.mean()) if n else None,
        "sd": finite_or_none(x.std(ddof=1)) if n > 1 else None,
        "min": finite_or_none(x.min()) if n else None,
        "max": finite_or_none(x.max()) if n else None,
    }


def _group_row(
    group: pd.DataFrame, dimension: str, name: str, levels: Sequence[str], confidence: float
) -> dict[str, Any]:
    n = len(group)
    patients = group["patient_id"].dropna().astype(str)
    visits = patients.value_counts()
    sex = group["sex"].fillna("").astype(str)
    known_sex = ~sex.isin(UNKNOWN)
    n_known_sex = int(known_sex.sum())
    n_female = int((sex == FEMALE).sum())
    age, bmi, ref = (
        _summary(group["age"]),
        _summary(group["bmi"]),
        _summary(group["reference"]),
    )
    label = pd.to_numeric(group["label"], errors="coerce").dropna()
    n_label, n_positive = int(label.size), int((label == 1).sum())
    positive_ci = wilson_interval(n_positive, n_label, confidence=confidence) if n_label else None
    quality = group["image_quality"].fillna("unknown").astype(str)
    counts = quality.value_counts()
    return {
        "dimension": dimension,
        "group": name,
        "n_studies": n,
        "n_patients": int(visits.size),
        "n_patients_repeat": int((visits > 1).sum()),
        "age_n": age["n"],
        "age_mean": age["mean"],
        "age_sd": age["sd"],
        "age_min": age["min"],
        "age_max": age["max"],
        "sex_known": n_known_sex,
        "female_n": n_female,
        "female_fraction": n_female / n_known_sex if n_known_sex else None,
        "bmi_n": bmi["n"],
        "bmi_mean": bmi["mean"],
        "bmi_sd": bmi["sd"],
        "reference_n": ref["n"],
        "reference_mean": ref["mean"],
        "reference_sd": ref["sd"],
        "positive_n": n_positive,
        "labelled_n": n_label,
        "prevalence": n_positive / n_label if n_label else None,
        "prevalence_ci_low": positive_ci.low if positive_ci else None,
        "prevalence_ci_high": positive_ci.high if positive_ci else None,
        "image_quality": [
            {
                "grade": grade,
                "n": int(counts.get(grade, 0)),
                "fraction": int(counts.get(grade, 0)) / n if n else None,
            }
            for grade in levels
        ],
    }


def baseline_characteristics(
    studies: pd.DataFrame,
    *,
    by: Sequence[str] = ("site", "vendor"),
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Descriptive characteristics of the analysed studies, overall and per group.

    Parameters
    ----------
    studies : DataFrame
        The analysed study table (``analysed.csv``): one row per study with the columns in
        :data:`BASELINE_COLUMNS` (``label`` is the reference-standard label of the finding, 0/1).
    by : sequence of str, default ("site", "vendor")
        The grouping columns; each gives one row per group, in sorted order.
    confidence : float, default 0.95
        Two-sided confidence level of the Wilson interval for the prevalence of the finding.

    Returns
    -------
    dict
        ``{"unit": "study", "confidence", "proportion_ci": "wilson", "dimensions",
        "image_quality_grades", "rows"}``. ``rows`` is a tidy list: first the ``overall`` row
        (group ``"all"``), then one row per group of each dimension, each with
        ``dimension, group, n_studies, n_patients, n_patients_repeat, age_n, age_mean,
        age_sd, age_min, age_max, sex_known, female_n, female_fraction, bmi_n, bmi_mean,
        bmi_sd, reference_n, reference_mean, reference_sd, positive_n,
        labelled_n, prevalence, prevalence_ci_low, prevalence_ci_high`` and ``image_quality`` (a
        list of ``{"grade", "n", "fraction"}`` over :data:`QUALITY_ORDER` grades present).
        Undefined values are ``None``.

    Raises
    ------
    TypeError
        If ``studies`` is not a DataFrame, or ``confidence`` is not a real number.
    ValueError
        If a required or grouping column is missing, or ``confidence`` is not in (0, 1).

    Notes
    -----
    The unit is the *study*: a patient with a follow-up visit contributes each visit (age at
    that visit), as in the analysis; ``n_patients`` counts distinct ``patient_id`` and
    ``n_patients_repeat`` those with more than one study. SDs use ``n - 1``. The
    percentage female is over studies with a recorded sex. The prevalence interval is
    Wilson's score interval (Newcombe 1998, method 3) over studies; it ignores clustering of
    visits within patients, so it is descriptive (the classification results carry the
    patient-level interval).

    References
    ----------
    .. [1] Bossuyt PM, Reitsma JB, Bruns DE, et al. STARD 2015: an updated list of essential
       items for reporting diagnostic accuracy studies. BMJ. 2015;351:h5527 (item 20).
    .. [2] Newcombe RG. Two-sided confidence intervals for the single proportion: comparison
       of seven methods. Stat Med. 1998;17(8):857-872.

    Examples
    --------
    >>> studies = pd.DataFrame({
    ...     "site": ["s01", "s01", "s02"], "vendor": ["GE", "GE", "Canon"],
    ...     "sex": ["F", "M", "F"], "age": [50, 60, 70], "bmi": [24.0, 26.0, 28.0],
    ...     "image_quality": ["good", "poor", "good"], "patient_id": ["A", "B", "C"],
    ...     "reference": [9.0, 12.0, 10.0], "label": [0, 1, 0]})
    >>> out = baseline_characteristics(studies)
    >>> overall = out["rows"][0]
    >>> overall["group"], overall["n_studies"], overall["age_mean"], overall["positive_n"]
    ('all', 3, 60.0, 1)
    >>> [(r["dimension"], r["group"]) for r in out["rows"][1:]]
    [('site', 's01'), ('site', 's02'), ('vendor', 'Canon'), ('vendor', 'GE')]
    """
    dims = [str(d) for d in by]
    require_columns(studies, (*BASELINE_COLUMNS, *dims), "studies")
    level = check_confidence(confidence)
    levels = _quality_levels(studies["image_quality"].fillna("unknown"))
    rows = [_group_row(studies, "overall", "all", levels, level)]
    for dim in dims:
        for name, group in studies.groupby(dim, sort=True, dropna=False):
            key = "unknown" if pd.isna(name) else str(name)
            rows.append(_group_row(group, dim, key, levels, level))
    return {
        "unit": "study",
        "confidence": level,
        "proportion_ci": "wilson",
        "dimensions": dims,
        "image_quality_grades": levels,
        "rows": rows,
    }


def _iso_date(text: Any) -> str | None:
    """A DICOM DA value (``YYYYMMDD``) or ISO date as ``YYYY-MM-DD``; None if absent/invalid."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    raw = str(text).strip().replace("-", "")
    if len(raw) >= 8 and raw[:8].isdigit():
        raw = raw[:8]
        when = pd.to_datetime(raw, format="%Y%m%d", errors="coerce")
        return None if pd.isna(when) else when.strftime("%Y-%m-%d")
    return None


def _period(dates: pd.Series, n: int) -> dict[str, Any]:
    dated = dates.dropna()
    return {
        "n_studies": n,
        "n_dated": int(dated.size),
        "first": str(dated.min()) if dated.size else None,
        "last": str(dated.max()) if dated.size else None,
    }


def study_period(studies: pd.DataFrame, accounting: pd.DataFrame | None = None) -> dict[str, Any]:
    """When the analysed studies were acquired: first and last study date, overall and by site.

    Parameters
    ----------
    studies : DataFrame
        The analysed study table with ``site`` and ``study_instance_uid`` and, if it has one,
        a ``study_date`` column (DICOM DA ``YYYYMMDD`` or ISO ``YYYY-MM-DD``).
    accounting : DataFrame, optional
        The ingest accounting (one row per file, with ``study_instance_uid``, ``status`` and
        ``study_date``). Used when ``studies`` has no ``study_date``: each analysed study
        takes the date of its included files.

    Returns
    -------
    dict
        ``{"source", "first", "last", "n_studies", "n_dated", "sites"}`` with dates as
        ``YYYY-MM-DD`` strings (None when no study is dated) and ``sites`` a list of
        ``{"site", "first", "last", "n_studies", "n_dated"}`` in site order. ``last`` is the
        data cut of the analysis: no later study was analysed.

    Raises
    ------
    TypeError
        If ``studies`` (or ``accounting``) is not a DataFrame.
    ValueError
        If a required column is missing, or ``studies`` has no ``study_date`` and no
        ``accounting`` is given.

    Examples
    --------
    >>> studies = pd.DataFrame({"site": ["s01", "s01", "s02"],
    ...                         "study_instance_uid": ["1", "2", "3"],
    ...                         "study_date": ["20260105", "20260320", "2026-02-01"]})
    >>> out = study_period(studies)
    >>> out["first"], out["last"], out["sites"][0]["last"]
    ('2026-01-05', '2026-03-20', '2026-03-20')
    """
    require_columns(studies, ("site", "study_instance_uid"), "studies")
    if "study_date" in studies.columns:
        dates = studies["study_date"].map(_iso_date)
        source = "study_date of the analysed study table"
    elif accounting is None:
        raise ValueError(
            "studies has no study_date column; pass the ingest accounting (with study_date) "
            "as accounting."
        )
    else:
        require_columns(accounting, ("study_instance_uid", "status", "study_date"), "accounting")
        included = accounting[accounting["status"] == "included"]
        by_study = (
            pd.DataFrame(
                {
                    "uid": included["study_instance_uid"].astype(str),
                    "iso": included["study_date"].map(_iso_date),
                }
            )
            .dropna(subset=["iso"])
            .groupby("uid")["iso"]
            .min()
        )
        dates = studies["study_instance_uid"].astype(str).map(by_study)
        source = "DICOM Study Date of the analysed studies (ingest accounting)"
    dates = dates.where(dates.notna(), None)
    out: dict[str, Any] = {"source": source, **_period(dates, len(studies))}
    out["sites"] = [
        {"site": str(site), **_period(dates[group.index], len(group))}
        for site, group in studies.groupby("site", sort=True)
    ]
    return out
