"""Pure statistics on arrays and frames: the numbers of every evidence report come from here.

Functions follow scipy.stats conventions (data first, keyword-only options) and return frozen
dataclasses or tidy DataFrames; every interval is an :class:`Interval`. Each statistic is
tested against a published worked example (see ``tests/stats``).

- proportions: :func:`wilson_interval`, :func:`clopper_pearson_interval`
- diagnostic accuracy: :func:`diagnostic_accuracy`; ROC: :func:`roc_auc`, :func:`delong_test`
- agreement: :func:`bland_altman`, :func:`bland_altman_repeated`, :func:`mean_absolute_error`,
  :func:`root_mean_square_error`, :func:`lin_ccc`, :func:`icc`, :func:`cohen_kappa`
- method-comparison regression: :func:`deming`, :func:`passing_bablok`
- clustered data: :func:`cluster_bootstrap`, :func:`cluster_bootstrap_ratio`,
  :func:`cluster_bootstrap_table` (:data:`DEFAULT_RESAMPLES` resamples unless told otherwise;
  :meth:`BootstrapResult.interval` at any other level)
- across sites: :func:`random_effects`, :func:`leave_one_out`
- multiplicity: :func:`holm`, :func:`bonferroni`, :func:`fixed_sequence`,
  :func:`multiplicity_adjust`
- planning: :func:`sample_size_proportion`, :func:`sample_size_bland_altman`
- two model versions on the same studies: :func:`paired_proportion_difference`,
  :func:`mcnemar_test`, :func:`paired_bootstrap_difference`, :func:`noninferior` (and
  :func:`delong_test` for AUC)
"""

from validation.stats.accuracy import DiagnosticAccuracy, diagnostic_accuracy
from validation.stats.agreement import BlandAltman, bland_altman
from validation.stats.bootstrap import (
    DEFAULT_RESAMPLES,
    BootstrapResult,
    cluster_bootstrap,
    cluster_bootstrap_ratio,
    cluster_bootstrap_table,
)
from validation.stats.location import mean_absolute_error, mean_interval, root_mean_square_error
from validation.stats.meta import RandomEffectsPool, leave_one_out, random_effects
from validation.stats.multiplicity import (
    MultiplicityResult,
    bonferroni,
    fixed_sequence,
    holm,
    multiplicity_adjust,
)
from validation.stats.paired import (
    McNemarTest,
    PairedBootstrapDifference,
    PairedProportionDifference,
    mcnemar_test,
    noninferior,
    paired_bootstrap_difference,
    paired_outcomes_from_counts,
    paired_proportion_difference,
)
from validation.stats.proportions import (
    Estimate,
    Interval,
    clopper_pearson_interval,
    proportion_interval,
    wilson_interval,
)
from validation.stats.regression import MethodComparisonFit, deming, passing_bablok
from validation.stats.reliability import (
    CohenKappa,
    ConcordanceCorrelation,
    cohen_kappa,
    icc,
    lin_ccc,
)
from validation.stats.repeated import RepeatedBlandAltman, bland_altman_repeated
from validation.stats.roc import DelongTest, RocAuc, delong_test, roc_auc
from validation.stats.sample_size import (
    BlandAltmanSampleSize,
    ProportionSampleSize,
    bland_altman_power,
    sample_size_bland_altman,
    sample_size_proportion,
)

__all__ = [
    "DEFAULT_RESAMPLES",
    "BlandAltman",
    "BlandAltmanSampleSize",
    "BootstrapResult",
    "CohenKappa",
    "ConcordanceCorrelation",
    "DelongTest",
    "DiagnosticAccuracy",
    "Estimate",
    "Interval",
    "McNemarTest",
    "MethodComparisonFit",
    "MultiplicityResult",
    "PairedBootstrapDifference",
    "PairedProportionDifference",
    "ProportionSampleSize",
    "RandomEffectsPool",
    "RepeatedBlandAltman",
    "RocAuc",
    "bland_altman",
    "bland_altman_power",
    "bland_altman_repeated",
    "bonferroni",
    "clopper_pearson_interval",
    "cluster_bootstrap",
    "cluster_bootstrap_ratio",
    "cluster_bootstrap_table",
    "cohen_kappa",
    "delong_test",
    "deming",
    "diagnostic_accuracy",
    "fixed_sequence",
    "holm",
    "icc",
    "leave_one_out",
    "lin_ccc",
    "mcnemar_test",
    "mean_absolute_error",
    "mean_interval",
    "multiplicity_adjust",
    "noninferior",
    "paired_bootstrap_difference",
    "paired_outcomes_from_counts",
    "paired_proportion_difference",
    "passing_bablok",
    "proportion_interval",
    "random_effects",
    "roc_auc",
    "root_mean_square_error",
    "sample_size_bland_altman",
    "sample_size_proportion",
    "wilson_interval",
]
