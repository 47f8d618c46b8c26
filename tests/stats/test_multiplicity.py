"""Tests for validation.stats.multiplicity against documented R output and closed testing.

Sources:

* R package multtest, ``mt.rawp2adjp(rawp, proc=c("Bonferroni", "Holm", ...))``: raw and
  adjusted p-values for three p-value sets, as transcribed in the statsmodels test suite
  (statsmodels/statsmodels, statsmodels/stats/tests/test_multi.py: ``pval0`` with
  ``res_multtest1``, ``res_multtest2`` and ``res_multtest3``; columns rawp, Bonferroni,
  Holm, ...). multtest's Holm and Bonferroni adjusted p-values are those of R
  ``p.adjust(p, method="holm")`` and ``p.adjust(p, method="bonferroni")``
  (min(1, max_{i<=j} (m-i+1) p_(i)) and min(1, m p); Wright 1992, Biometrics 48:1005).
* Holm S (1979) Scand J Stat 6:65-70: Holm's procedure is the closed testing procedure
  (Marcus, Peritz & Gabriel 1976, Biometrika 63:655) with Bonferroni intersection tests.
  Checked by brute force over all intersections: the adjusted p-value of H_i is the largest
  Bonferroni p-value min(1, |J| min_{j in J} p_j) over all index sets J containing i.
* Fixed-sequence testing, Maurer, Hothorn & Lehmacher (1995) and FDA, "Multiple Endpoints
  in Clinical Trials", Guidance for Industry, October 2022 (section on the fixed-sequence
  method): endpoints are tested in a pre-specified order, each at the full alpha, and
  testing stops at the first endpoint that is not significant; later endpoints cannot be
  claimed however small their p-values. No published table of fixed-sequence adjusted
  p-values was found; the procedure is checked by (a) the guidance's decision rule
  applied step by step in the test and (b) brute-force closed testing whose intersection
  test uses the first hypothesis in the order (adjusted p of H_i = max_{j<=i} p_j,
  Westfall & Krishen 2001, J Stat Plan Inference 99:25).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from validation.stats.multiplicity import (
    MultiplicityResult,
    bonferroni,
    fixed_sequence,
    holm,
    multiplicity_adjust,
)

# statsmodels test_multi.py, pval0 (input order) and res_multtest1 (rows sorted by raw p):
# columns rawp, Bonferroni, Holm from R multtest::mt.rawp2adjp.
PVAL0 = [0.838541367553, 0.642193923795, 0.680845947633, 0.967833824309, 0.71626938238,
         0.177096952723, 5.23656777208e-005, 0.0202732688798, 0.00028140506198,
         0.0149877310796]  # fmt: skip
MULTTEST1_SORTED = [
    # rawp, Bonferroni, Holm
    (5.2365677720800003e-05, 5.2365677720800005e-04, 5.2365677720800005e-04),
    (2.8140506198000000e-04, 2.8140506197999998e-03, 2.5326455578199999e-03),
    (1.4987731079600001e-02, 1.4987731079600000e-01, 1.1990184863680001e-01),
    (2.0273268879800001e-02, 2.0273268879799999e-01, 1.4191288215860001e-01),
    (1.7709695272300000e-01, 1.0, 1.0),
    (6.4219392379499995e-01, 1.0, 1.0),
    (6.8084594763299999e-01, 1.0, 1.0),
    (7.1626938238000004e-01, 1.0, 1.0),
    (8.3854136755300002e-01, 1.0, 1.0),
    (9.6783382430900000e-01, 1.0, 1.0),
]
# res_multtest2: all Holm rejections at alpha = 0.05, not all Bonferroni ones.
MULTTEST2 = {
    "raw": [0.002, 0.004, 0.006, 0.008, 0.01, 0.012],
    "bonferroni": [0.012, 0.024, 0.036, 0.048, 0.06, 0.072],
    "holm": [0.012, 0.02, 0.024, 0.024, 0.024, 0.024],
}
# res_multtest3.
MULTTEST3 = {
    "raw": [0.001, 0.002, 0.003, 0.004, 0.005, 0.05, 0.06, 0.07, 0.08, 0.09],
    "bonferroni": [0.01, 0.02, 0.03, 0.04, 0.05, 0.5, 0.6, 0.7, 0.8, 0.9],
    "holm": [0.01, 0.018, 0.024, 0.028, 0.03, 0.25, 0.25, 0.25, 0.25, 0.25],
}


# --------------------------------------------------------------------------- R multtest


def test_holm_and_bonferroni_match_r_multtest_in_input_order():
    """pval0 / res_multtest1 (alpha = 0.1 in statsmodels' test): input is unsorted."""
    expected = {raw: (bonf, hol) for raw, bonf, hol in MULTTEST1_SORTED}
    res_h = holm(PVAL0, alpha=0.1)
    res_b = bonferroni(PVAL0, alpha=0.1)
    for i, p in enumerate(PVAL0):
        bonf, hol = expected[min(expected, key=lambda raw, p=p: abs(raw - p))]
        assert res_h.adjusted_p[i] == pytest.approx(hol, abs=1e-15)
        assert res_b.adjusted_p[i] == pytest.approx(bonf, abs=1e-15)
    assert res_h.rejected == tuple(a <= 0.1 for a in res_h.adjusted_p)
    assert res_h.n_rejected == 2 and res_b.n_rejected == 2
    assert res_h.p_values == tuple(PVAL0)


@pytest.mark.parametrize("table", [MULTTEST2, MULTTEST3], ids=["multtest2", "multtest3"])
def test_holm_and_bonferroni_match_r_multtest(table):
    res_h = holm(table["raw"], alpha=0.05)
    res_b = bonferroni(table["raw"], alpha=0.05)
    np.testing.assert_allclose(res_h.adjusted_p, table["holm"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(res_b.adjusted_p, table["bonferroni"], rtol=0, atol=1e-15)
    assert res_h.rejected == tuple(a <= 0.05 for a in table["holm"])
    assert res_b.rejected == tuple(a <= 0.05 for a in table["bonferroni"])


def test_multtest2_holm_rejects_all_but_bonferroni_does_not():
    """statsmodels' comment on res_multtest2: all rejected except for Bonferroni."""
    assert holm(MULTTEST2["raw"]).all_rejected
    res_b = bonferroni(MULTTEST2["raw"])
    assert not res_b.all_rejected and res_b.n_rejected == 4


# --------------------------------------------------------------------------- Holm logic


def _closed_bonferroni(p: np.ndarray) -> np.ndarray:
    """Adjusted p-values of closed testing with Bonferroni intersection tests."""
    m = p.shape[0]
    adjusted = np.zeros(m)
    for size in range(1, m + 1):
        for subset in itertools.combinations(range(m), size):
            local = min(1.0, size * min(p[j] for j in subset))
            for i in subset:
                adjusted[i] = max(adjusted[i], local)
    return adjusted


@pytest.mark.parametrize("seed", range(8))
def test_holm_equals_closed_testing_with_bonferroni(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 8))
    p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 3.0)
    res = holm(p, alpha=0.05)
    np.testing.assert_allclose(res.adjusted_p, _closed_bonferroni(p), rtol=1e-12, atol=1e-15)


def test_holm_step_down_levels_and_stopping():
    """Worked by hand: sorted p 0.005, 0.01, 0.03, 0.04 against 0.05/4, /3, /2, /1."""
    res = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05, labels=["a", "b", "c", "d"])
    assert res.rejected == (True, False, False, True)
    # d at 0.05/4, a at 0.05/3, c at 0.05/2 (not rejected: stop); b never reached.
    assert res.local_alpha[3] == pytest.approx(0.0125)
    assert res.local_alpha[0] == pytest.approx(0.05 / 3)
    assert res.local_alpha[2] == pytest.approx(0.025)
    assert math.isnan(res.local_alpha[1])
    assert res.tested == (True, False, True, True)
    # b has p = 0.04 <= alpha / 1 but Holm stopped before it.
    assert res.rejected[1] is False


def test_holm_is_never_less_powerful_than_bonferroni():
    rng = np.random.default_rng(11)
    for _ in range(200):
        p = rng.uniform(0, 0.1, int(rng.integers(1, 10)))
        h, b = holm(p), bonferroni(p)
        assert all(hr or not br for hr, br in zip(h.rejected, b.rejected, strict=True))
        assert all(ha <= ba + 1e-15 for ha, ba in zip(h.adjusted_p, b.adjusted_p, strict=True))


def test_ties_get_equal_adjusted_p_values():
    res = holm([0.01, 0.01, 0.2])
    assert res.adjusted_p[0] == res.adjusted_p[1] == pytest.approx(0.03)


# --------------------------------------------------------------------------- fixed sequence


def _fixed_sequence_by_hand(p: list[float], alpha: float) -> tuple[list[bool], list[bool]]:
    """The guidance's rule: test in order at full alpha, stop at the first failure."""
    rejected, tested = [], []
    going = True
    for value in p:
        tested.append(going)
        ok = going and value <= alpha
        rejected.append(ok)
        going = ok
    return rejected, tested


def test_fixed_sequence_stops_at_the_first_failure():
    """A later endpoint with p = 0.001 cannot be claimed after an earlier failure."""
    p = [0.01, 0.04, 0.06, 0.001]
    res = fixed_sequence(p, alpha=0.05, labels=["primary", "key-2", "key-3", "key-4"])
    assert res.rejected == (True, True, False, False)
    assert res.tested == (True, True, True, False)
    assert res.local_alpha[:3] == (0.05, 0.05, 0.05) and math.isnan(res.local_alpha[3])
    assert res.adjusted_p == pytest.approx((0.01, 0.04, 0.06, 0.06))
    # The same p-values in Holm's procedure: 0.001 and 0.01 reject, then 0.04 > 0.05/2.
    assert holm(p).rejected == (True, False, False, True)


@pytest.mark.parametrize("seed", range(20))
def test_fixed_sequence_matches_the_rule_and_closed_testing(seed):
    rng = np.random.default_rng(100 + seed)
    m = int(rng.integers(1, 7))
    p = list(rng.uniform(0, 0.12, m))
    alpha = float(rng.choice([0.025, 0.05, 0.1]))
    res = fixed_sequence(p, alpha=alpha)
    rejected, tested = _fixed_sequence_by_hand(p, alpha)
    assert list(res.rejected) == rejected
    assert list(res.tested) == tested
    # Closed testing: intersection H_J tested by the p-value of its first element.
    for i in range(m):
        worst = max(
            p[min(subset)]
            for size in range(1, m + 1)
            for subset in itertools.combinations(range(m), size)
            if i in subset
        )
        assert res.adjusted_p[i] == pytest.approx(worst, abs=1e-15)


def test_fixed_sequence_rejects_at_alpha_boundary():
    assert fixed_sequence([0.05, 0.05], alpha=0.05).rejected == (True, True)
    assert holm([0.025, 0.05], alpha=0.05).rejected == (True, True)


# --------------------------------------------------------------------------- dispatcher & result


def test_multiplicity_adjust_dispatches():
    p = [0.03, 0.011, 0.2]
    for procedure, func in (
        ("holm", holm),
        ("bonferroni", bonferroni),
        ("fixed-sequence", fixed_sequence),
    ):
        # Compare as frames: local_alpha may hold NaN, and NaN != NaN in tuple equality.
        pd.testing.assert_frame_equal(
            multiplicity_adjust(p, procedure=procedure).to_frame(), func(p).to_frame()
        )
    none = multiplicity_adjust(p, procedure="none", alpha=0.025)
    assert none.adjusted_p == tuple(p) and none.local_alpha == (0.025,) * 3
    assert none.rejected == (False, True, False) and none.procedure == "none"


def test_co_primary_endpoints_all_must_succeed():
    co = multiplicity_adjust([0.003, 0.021], procedure="none", labels=["sens", "spec"])
    assert co.all_rejected
    assert not multiplicity_adjust([0.003, 0.07], procedure="none").all_rejected


def test_matching_confidence_levels():
    res = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    one = res.matching_confidence()
    assert one[3] == pytest.approx(1 - 2 * 0.0125) and one[0] == pytest.approx(1 - 0.1 / 3)
    assert math.isnan(one[1])
    two = res.matching_confidence(sided="two-sided")
    assert two[2] == pytest.approx(0.975)
    assert fixed_sequence([0.01], alpha=0.025).matching_confidence() == pytest.approx((0.95,))
    with pytest.raises(ValueError, match="no matching two-sided interval"):
        bonferroni([0.1], alpha=0.6).matching_confidence()
    with pytest.raises(ValueError, match="sided must be one of"):
        res.matching_confidence(sided="upper")  # type: ignore[arg-type]


def test_result_frame_and_metadata():
    res = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05, labels=["a", "b", "c", "d"])
    assert isinstance(res, MultiplicityResult)
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "hypothesis", "order", "p", "adjusted_p", "local_alpha", "tested", "rejected",
        "procedure", "alpha",
    ]  # fmt: skip
    assert list(frame["hypothesis"]) == ["a", "b", "c", "d"]
    assert list(frame["order"]) == [2, 4, 3, 1]
    assert set(frame["alpha"]) == {0.05} and set(frame["procedure"]) == {"holm"}
    assert list(fixed_sequence([0.2, 0.01]).to_frame()["order"]) == [1, 2]
    assert holm([0.2, 0.01]).labels == ("H1", "H2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.alpha = 0.1  # type: ignore[misc]


def test_single_hypothesis_is_tested_at_alpha_by_every_procedure():
    for procedure in ("holm", "bonferroni", "fixed-sequence", "none"):
        res = multiplicity_adjust([0.04], procedure=procedure, alpha=0.05)
        assert res.rejected == (True,) and res.local_alpha == (0.05,)
        assert res.adjusted_p == (0.04,)


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize("func", [holm, bonferroni, fixed_sequence])
@pytest.mark.parametrize(
    ("p_values", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "at least one observation"),
        ([0.1, np.nan], {}, ValueError, "NaN"),
        ([0.1, 1.2], {}, ValueError, r"lie in \[0, 1\]"),
        ([-0.01], {}, ValueError, r"lie in \[0, 1\]"),
        (["0.1"], {}, TypeError, "real numbers"),
        ([[0.1, 0.2]], {}, ValueError, "one-dimensional"),
        ([0.1], {"alpha": 0.0}, ValueError, "alpha must be in the open interval"),
        ([0.1], {"alpha": 1.0}, ValueError, "alpha must be in the open interval"),
        ([0.1], {"alpha": float("nan")}, ValueError, "alpha"),
        ([0.1], {"alpha": "0.05"}, TypeError, "alpha"),
        ([0.1], {"alpha": True}, TypeError, "alpha"),
        ([0.1, 0.2], {"labels": ["a"]}, ValueError, "labels and p_values"),
        ([0.1, 0.2], {"labels": ["a", "a"]}, ValueError, "unique"),
        ([0.1, 0.2], {"labels": "ab"}, TypeError, "labels"),
    ],
)
def test_bad_input_raises_with_a_clear_message(func, p_values, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(p_values, **kwargs)


def test_unknown_procedure_raises():
    with pytest.raises(ValueError, match="procedure must be one of"):
        multiplicity_adjust([0.1], procedure="hochberg")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="procedure"):
        multiplicity_adjust([0.1], procedure=None)  # type: ignore[arg-type]
