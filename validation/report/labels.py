"""Words of the reports: labels of keys, metrics, subgroup dimensions, sites and strata.

Every report (the evidence reports and the surveillance report) names things the same way
through this module: a key becomes a label with :func:`humanize`, a stratum dimension gets its
heading from :data:`DIMENSIONS`, a metric its names and unit from :data:`METRICS`, and a site
is shown as "name (id)" by :func:`stratum_label`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Words kept as written when a key is turned into a label (matched case-insensitively).
WORDS: dict[str, str] = {
    "auc": "AUC",
    "bmi": "BMI",
    "ci": "CI",
    "id": "ID",
    "mae": "MAE",
    "mm": "mm",
    "roc": "ROC",
    "sha256": "sha256",
    "sop": "SOP",
    "url": "URL",
    "us": "US",
    "vs": "vs",
}

#: Subgroup dimensions in the order the reports show them, with their headings.
DIMENSIONS: dict[str, str] = {
    "site": "Site",
    "vendor": "Ultrasound vendor",
    "scanner_model": "Scanner model",
    "sex": "Sex",
    "age_band": "Age band (years)",
    "bmi_band": "Body-mass index band (kg/m\u00b2)",
    "image_quality": "Image quality",
}


@dataclass(frozen=True)
class Metric:
    """How the reports name a metric: a short label (tables), a long one (text) and its unit.

    ``unit`` is the filter unit: :data:`MEASUREMENT` (a metric of the measurement, in the
    protocol's unit: see :func:`metric_unit`), ``""`` (a proportion, shown as %) or ``"index"``.
    """

    short: str
    long: str
    unit: str


#: The unit of a metric of the measurement until it is resolved to the protocol's UCUM code.
MEASUREMENT = "measurement"

#: The metrics of endpoints, strata and comparisons.
METRICS: dict[str, Metric] = {
    "bias": Metric("bias", "mean bias", MEASUREMENT),
    "loa_low": Metric("lower limit of agreement", "lower limit of agreement", MEASUREMENT),
    "loa_high": Metric("upper limit of agreement", "upper limit of agreement", MEASUREMENT),
    "mae": Metric("mean absolute error", "mean absolute error", MEASUREMENT),
    "rmse": Metric("root-mean-square error", "root-mean-square error", MEASUREMENT),
    "sensitivity": Metric("sensitivity", "sensitivity", ""),
    "specificity": Metric("specificity", "specificity", ""),
    "auc": Metric("AUC", "area under the ROC curve", "index"),
}


def humanize(key: Any) -> str:
    """A key as a label: words split at ``_``, ``-`` and spaces, the first capitalised.

    Words in :data:`WORDS` keep their written form.

    Examples
    --------
    >>> humanize("holdout_mae_mm"), humanize("auc-rate"), humanize("age_band")
    ('Holdout MAE mm', 'AUC rate', 'Age band')
    """
    words = [w for w in re.split(r"[_\-\s]+", str(key)) if w]
    if not words:
        return str(key)
    out = [WORDS.get(w.lower(), w) for w in words]
    if words[0].lower() not in WORDS:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def plain(value: Any) -> str:
    """A free-form value (a model-card field) as text: lists joined, mappings as "key: value".

    Examples
    --------
    >>> plain({"studies_fit": 1800, "vendors": ["GE", "Canon"], "final": True})
    'Studies fit: 1800; Vendors: GE, Canon; Final: yes'
    >>> plain(None), plain(float("nan"))
    ('', 'n/a')
    """
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{humanize(k)}: {plain(v)}" for k, v in value.items())
    return str(value)


def dimension_title(dimension: Any) -> str:
    """The heading of a subgroup dimension (:data:`DIMENSIONS`, else the humanised key)."""
    return DIMENSIONS.get(str(dimension), humanize(dimension))


def metric(name: Any) -> Metric:
    """How a metric is named (:data:`METRICS`; an unknown one by its humanised key)."""
    known = METRICS.get(str(name))
    if known is not None:
        return known
    label = humanize(name)
    return Metric(label, label, "")


def metric_unit(name: Any, measure: Mapping[str, Any] | None) -> str:
    """The filter unit of a metric: the measurement's UCUM code (``measure["unit"]``, see
    :func:`validation.report.outputs.measure_context`) for a metric of the measurement, else
    its :data:`METRICS` unit.

    Examples
    --------
    >>> metric_unit("bias", {"unit": "%"}), metric_unit("sensitivity", None)
    ('%', '')
    """
    unit = metric(name).unit
    if unit != MEASUREMENT:
        return unit
    return str(measure["unit"]) if measure else "1"


def site_names(results: Mapping[str, Any]) -> dict[str, str]:
    """Site id to site name, from ``data.sites`` of ``results.json``."""
    return {str(s["id"]): str(s["name"]) for s in results["data"]["sites"]}


def stratum_label(dimension: Any, stratum: Any, names: Mapping[str, str]) -> str:
    """A stratum as shown: a site as "name (id)", anything else as written.

    Examples
    --------
    >>> stratum_label("site", "s01", {"s01": "Riverside"}), stratum_label("vendor", "GE", {})
    ('Riverside (s01)', 'GE')
    """
    if str(dimension) == "site" and str(stratum) in names:
        return f"{names[str(stratum)]} ({stratum})"
    return str(stratum)


def with_site_name(row: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``row`` with ``site_name``: the name of its ``site`` (the id if unknown)."""
    return dict(row, site_name=names.get(str(row["site"]), str(row["site"])))
