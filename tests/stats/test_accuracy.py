"""Tests for validation.stats.accuracy against published values.

Sources:

* Scott IA, Greenburg PB, Poole PJ (as cited by epiR). Cautionary tales in the clinical
  interpretation of studies of diagnostic tests. Intern Med J 2008;38:120-129, Table 1: 744
  disease positive (670 test positive), 842 disease negative (640 test negative). Reference
  output: R package epiR,
  ``epi.tests(as.table(matrix(c(670, 202, 74, 640), nrow = 2, byrow = TRUE)),
  conf.level = 0.95)`` as documented in the epiR help page (man/epi.tests.Rd, example) and
  printed in its output: true prevalence 0.47 (0.44, 0.49), sensitivity 0.90 (0.88, 0.92),
  specificity 0.76 (0.73, 0.79), PPV 0.77 (0.74, 0.80), NPV 0.90 (0.87, 0.92), LR+ 3.75
  (3.32, 4.24), LR- 0.13 (0.11, 0.16). epiR documents exact (Clopper-Pearson) limits for the
  proportions and the Simel, Samsa & Matchar (1991) formulae for the likelihood ratios.
* Newcombe RG. Stat Med 1998;17:857-872, Table I (Wilson and exact intervals for 81/263 and
  15/148), used here for sensitivity and specificity of a constructed table.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from validation.stats import DiagnosticAccuracy, Estimate, diagnostic_accuracy


def labels_from_counts(tp: int, fp: int, fn: int, tn: int) -> tuple[np.ndarray, np.ndarray]:
    """Expand a 2x2 table into y_true / y_pred arrays (order does not matter)."""
    y_true = np.repeat([1, 0, 1, 0], [tp, fp, fn, tn])
    y_pred = np.repeat([1, 1, 0, 0], [tp, fp, fn, tn])
    return y_true, y_pred


SCOTT_2008 = labels_from_counts(tp=670, fp=202, fn=74, tn=640)

# epiR::epi.tests printed output (2 decimals) for Scott et al. 2008, Table 1.
EPIR_PRINTED = {
    "prevalence": (0.47, 0.44, 0.49),
    "sensitivity": (0.90, 0.88, 0.92),
    "specificity": (0.76, 0.73, 0.79),
    "ppv": (0.77, 0.74, 0.80),
    "npv": (0.90, 0.87, 0.92),
    "lr_positive": (3.75, 3.32, 4.24),
    "lr_negative": (0.13, 0.11, 0.16),
}


def rounded(e: Estimate, digits: int = 2) -> tuple[float, float, float]:
    return (round(e.estimate, digits), round(e.ci.low, digits), round(e.ci.high, digits))


def test_counts_of_scott_2008_table_1():
    res = diagnostic_accuracy(*SCOTT_2008)
    assert (res.tp, res.fp, res.fn, res.tn, res.n) == (670, 202, 74, 640, 1586)


@pytest.mark.parametrize("metric", sorted(EPIR_PRINTED))
def test_matches_epir_epi_tests_scott_2008(metric):
    """epiR::epi.tests on Scott et al. (2008) Table 1; exact limits as epiR documents."""
    res = diagnostic_accuracy(*SCOTT_2008, method="clopper-pearson")
    assert rounded(getattr(res, metric)) == EPIR_PRINTED[metric]


def test_likelihood_ratios_use_the_simel_log_method():
    """epiR (Simel et al. 1991 formulae): LR+ 3.75 (3.32, 4.24), LR- 0.13 (0.11, 0.16)."""
    res = diagnostic_accuracy(*SCOTT_2008)
    assert rounded(res.lr_positive) == (3.75, 3.32, 4.24)
    assert rounded(res.lr_negative) == (0.13, 0.11, 0.16)
    assert res.lr_positive.ci.method == "log"
    # The log interval is symmetric on the log scale about the estimate.
    lr = res.lr_positive
    assert math.log(lr.estimate) - math.log(lr.ci.low) == pytest.approx(
        math.log(lr.ci.high) - math.log(lr.estimate)
    )


def test_sensitivity_and_specificity_match_newcombe_table_1():
    """Newcombe (1998) Table I: 81/263 and 15/148 as sensitivity and specificity."""
    y_true, y_pred = labels_from_counts(tp=81, fp=133, fn=182, tn=15)
    wilson = diagnostic_accuracy(y_true, y_pred)
    assert (wilson.sensitivity.ci.low, wilson.sensitivity.ci.high) == pytest.approx(
        (0.2553, 0.3662), abs=5e-5
    )
    assert (wilson.specificity.ci.low, wilson.specificity.ci.high) == pytest.approx(
        (0.0624, 0.1605), abs=5e-5
    )
    exact = diagnostic_accuracy(y_true, y_pred, method="clopper-pearson")
    assert (exact.sensitivity.ci.low, exact.sensitivity.ci.high) == pytest.approx(
        (0.2527, 0.3676), abs=5e-5
    )
    assert (exact.specificity.ci.low, exact.specificity.ci.high) == pytest.approx(
        (0.0578, 0.1617), abs=5e-5
    )
    assert exact.sensitivity.ci.method == "clopper-pearson"
    assert wilson.sensitivity.estimate == pytest.approx(81 / 263)


def test_boolean_and_list_inputs_give_the_same_result():
    y_true, y_pred = SCOTT_2008
    a = diagnostic_accuracy(y_true, y_pred)
    b = diagnostic_accuracy(y_true.astype(bool), y_pred.astype(bool))
    c = diagnostic_accuracy(y_true.tolist(), y_pred.astype(float).tolist())
    assert a == b == c


def test_reference_standard_false_relabels_as_ppa_npa():
    """FDA (2007) statistical guidance: PPA/NPA for non-reference-standard comparisons."""
    ref = diagnostic_accuracy(*SCOTT_2008)
    cmp_ = diagnostic_accuracy(*SCOTT_2008, reference_standard=False)
    assert ref.labels["sensitivity"] == "Sensitivity"
    assert ref.labels["specificity"] == "Specificity"
    assert cmp_.labels["sensitivity"] == "PPA"
    assert cmp_.labels["specificity"] == "NPA"
    assert cmp_.reference_standard is False
    # Same numbers, different names.
    assert cmp_.ppa == ref.sensitivity and cmp_.npa == ref.specificity
    with pytest.raises(TypeError):
        cmp_.labels["sensitivity"] = "x"  # type: ignore[index]


def test_result_is_frozen():
    res = diagnostic_accuracy(*SCOTT_2008)
    assert isinstance(res, DiagnosticAccuracy)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.tp = 0  # type: ignore[misc]


def test_no_reference_positives_gives_nan_with_warning():
    y_true = [0, 0, 0, 0]
    y_pred = [0, 1, 0, 0]
    with pytest.warns(RuntimeWarning) as record:
        res = diagnostic_accuracy(y_true, y_pred)
    messages = " | ".join(str(w.message) for w in record)
    assert "sensitivity is undefined" in messages
    assert "LR+ is undefined" in messages and "LR- is undefined" in messages
    assert all(w.filename == __file__ for w in record)  # points at the caller
    assert math.isnan(res.sensitivity.estimate)
    assert math.isnan(res.sensitivity.ci.low) and math.isnan(res.sensitivity.ci.high)
    assert math.isnan(res.lr_positive.estimate) and math.isnan(res.lr_negative.estimate)
    assert res.specificity.estimate == 0.75
    assert res.prevalence.estimate == 0.0


def test_no_test_positives_gives_nan_ppv_with_warning():
    with pytest.warns(RuntimeWarning) as record:
        res = diagnostic_accuracy([1, 0, 1, 0], [0, 0, 0, 0])
    messages = " | ".join(str(w.message) for w in record)
    assert "PPV is undefined" in messages and "LR+ is undefined (0/0)" in messages
    assert math.isnan(res.ppv.estimate)
    assert res.npv.estimate == 0.5


def test_zero_false_positives_gives_infinite_lr_and_nan_limits():
    y_true, y_pred = labels_from_counts(tp=9, fp=0, fn=1, tn=10)
    with pytest.warns(RuntimeWarning, match="zero cell"):
        res = diagnostic_accuracy(y_true, y_pred)
    assert res.lr_positive.estimate == math.inf
    assert math.isnan(res.lr_positive.ci.low)
    assert res.lr_negative.estimate == pytest.approx(0.1)
    assert res.specificity.estimate == 1.0 and res.specificity.ci.high == 1.0


def test_perfect_test_lr_negative_is_zero_with_warning():
    with pytest.warns(RuntimeWarning):
        res = diagnostic_accuracy([1, 1, 0, 0], [1, 1, 0, 0])
    assert res.lr_negative.estimate == 0.0
    assert res.lr_positive.estimate == math.inf


@pytest.mark.parametrize(
    ("y_true", "y_pred", "kwargs", "exc", "match"),
    [
        ([1, 0, 1], [1, 0], {}, ValueError, "same length; got 3 and 2"),
        ([1, 0, 2], [1, 0, 1], {}, ValueError, r"y_true must hold binary labels.*\[2\]"),
        ([1, 0, 1], [1, 0, -1], {}, ValueError, r"y_pred must hold binary labels"),
        ([1, 0, np.nan], [1, 0, 1], {}, ValueError, "NaN"),
        (["a", "b"], [1, 0], {}, TypeError, "y_true must hold binary labels"),
        ([], [], {}, ValueError, "at least one observation"),
        ([[1, 0], [0, 1]], [[1, 0], [0, 1]], {}, ValueError, "one-dimensional"),
        ([1, 0], [1, 0], {"confidence": 1.5}, ValueError, "open interval"),
        ([1, 0], [1, 0], {"method": "wald"}, ValueError, "method must be one of"),
        ([1, 0], [1, 0], {"reference_standard": "no"}, TypeError, "reference_standard"),
    ],
)
def test_invalid_input_raises(y_true, y_pred, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagnostic_accuracy(y_true, y_pred, **kwargs)
