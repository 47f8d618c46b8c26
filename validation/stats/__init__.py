"""Pure statistics on arrays: proportions, diagnostic accuracy, ROC analysis and agreement.

Functions follow scipy.stats conventions (data first, keyword-only options) and return frozen
dataclasses; every interval is an :class:`Interval`.
"""

from validation.stats.accuracy import DiagnosticAccuracy, diagnostic_accuracy
from validation.stats.agreement import BlandAltman, bland_altman
from validation.stats.location import mean_absolute_error, mean_interval
from validation.stats.proportions import (
    Estimate,
    Interval,
    clopper_pearson_interval,
    proportion_interval,
    wilson_interval,
)
from validation.stats.roc import DelongTest, RocAuc, delong_test, roc_auc

__all__ = [
    "BlandAltman",
    "DelongTest",
    "DiagnosticAccuracy",
    "Estimate",
    "Interval",
    "RocAuc",
    "bland_altman",
    "clopper_pearson_interval",
    "delong_test",
    "diagnostic_accuracy",
    "mean_absolute_error",
    "mean_interval",
    "proportion_interval",
    "roc_auc",
    "wilson_interval",
]
