"""Pure statistics on arrays: proportions, diagnostic accuracy and agreement.

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

__all__ = [
    "BlandAltman",
    "DiagnosticAccuracy",
    "Estimate",
    "Interval",
    "bland_altman",
    "clopper_pearson_interval",
    "diagnostic_accuracy",
    "mean_absolute_error",
    "mean_interval",
    "proportion_interval",
    "wilson_interval",
]
