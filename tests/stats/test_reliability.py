"""Tests for validation.stats.reliability (ICC, Cohen's kappa, Lin's CCC) against published values.

Sources:

* Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability.
  Psychol Bull 1979;86(2):420-428. Table 2: 6 targets rated by 4 judges; the paper's ICCs
  for these data are .17, .29, .71, .44, .62, .91 (ICC(1,1), (2,1), (3,1), (1,k), (2,k),
  (3,k)). The same matrix is R ``psych``'s ``sf`` example.
* R ``psych::ICC(ratings)`` on the Shrout & Fleiss data, as knitted in the RExRepos
  tutorial "Inter-rater-reliability and Intra-class-correlation" (dwoll/RExRepos,
  ``md/interRaterICC.md``): F 1.8 (df 5, 18, p 0.16477) for ICC1/ICC1k and 11.0 (df 5, 15,
  p 0.00013) for the others; 95% bounds -0.133/0.72, 0.019/0.76, 0.342/0.95, -0.884/0.91,
  0.071/0.93, 0.676/0.99.
* R ``psych::ICC(anxiety)`` estimates and 95% bounds with 7 significant digits, from the
  knitted R session of the public course page "Agreement and Reliability (Kappa and ICC)"
  (Health-statistics, English translation), on ``irr::anxiety``
  (20 subjects x 3 raters). The data are transcribed from statsmodels'
  ``statsmodels/stats/tests/test_inter_rater.py`` (``anxiety``). The same page gives
  ``irr::kappa2`` on raters 1-2: 0.1195 unweighted, 0.1892 ("equal"), 0.2968 ("squared"),
  observed agreement 0.30.
* SAS PROC FREQ (AGREE) printout for the 3x3 table [[0, 4, 1], [0, 8, 0], [0, 1, 5]], as
  transcribed in statsmodels' ``test_inter_rater.py`` (``TestUnweightedCohens``,
  ``TestWeightedCohens``): simple kappa 0.4842, ASE 0.1380, 95% CL 0.2137-0.7547, ASE under
  H0 0.1484, Z 3.2626, two-sided p 0.0011; weighted kappa (Cicchetti-Allison, i.e. linear)
  0.4701, ASE 0.1457, CL 0.1845-0.7558, ASE under H0 0.1426, Z 3.2971, p 0.0010.
* R ``irr::kappa2(anxiety[, 2:3], weight)`` as transcribed in statsmodels'
  ``test_cohens_kappa_irr``: unweighted -0.006289308 (z -0.0604067, p 0.9518317), "equal"
  0.1459075 (z 1.282472, p 0.1996772), "squared" 0.2520325 (z 1.437451, p 0.1505898).
* R ``irr::kappa2`` in the RExRepos tutorial above: a 3x3 table of 100 subjects, kappa 0.429,
  z 5.46, p 4.79e-08; a 6x6 ordinal table, ``weight = "equal"``, kappa 0.316, z 5.38,
  p 7.3e-08.
* SAS/STAT User's Guide, PROC FREQ "Getting Started: Agreement Study" (skin condition
  ratings of two dermatologists, 4x4 table): the data only. Its quadratic-weighted kappa is
  checked against the independent implementation ``statsmodels.stats.inter_rater.
  cohens_kappa`` (not a published value: the SAS output tables are images).
* StatsToDo, "Lin's Concordance Correlation Coefficient" (statstodo.com/LinCCC.php): 30 pairs
  of blood pressures (intra-arterial vs cuff); Step 1 gives n = 30, means 120 and 120.77,
  SDs 9.27 and 9.34; Step 2 precision (Pearson) 0.87.

Not found: a documented output of ``DescTools::CCC`` or ``epiR::epi.ccc`` (CCC, its
z-transform interval, C_b, shifts) on data available here; the StatsToDo CCC and interval
were not in the stored text. ``lin_ccc`` is therefore checked against the published summary
statistics above and against an independent textbook implementation in this file, written
in Lin's original form (with r in the denominators) as in the epiR/Stata ``concord`` source,
plus Lin's (1989) identities.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

from validation.stats.proportions import Interval
from validation.stats.reliability import (
    CohenKappa,
    ConcordanceCorrelation,
    cohen_kappa,
    icc,
    lin_ccc,
)

SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]
FORMS = ["ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"]
# irr::anxiety, 20 subjects x 3 raters (as transcribed in statsmodels' test_inter_rater.py).
ANXIETY = np.column_stack(
    [
        [3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3],  # rater1
        [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4],  # rater2
        [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2],  # rater3
    ]
)


def _expand(table: list[list[int]], labels: list | None = None) -> tuple[list, list]:
    """Rater label vectors from a contingency table (rows: rater a, columns: rater b)."""
    counts = np.asarray(table)
    labels = list(range(counts.shape[0])) if labels is None else labels
    rows, cols = np.nonzero(counts)
    reps = counts[rows, cols]
    return [labels[i] for i in np.repeat(rows, reps)], [labels[j] for j in np.repeat(cols, reps)]


# ------------------------------------------------------------------------------------------ ICC


def test_icc_estimates_match_shrout_fleiss_1979():
    """Shrout & Fleiss (1979): .17, .29, .71, .44, .62, .91 for the Table 2 data."""
    table = icc(SHROUT_FLEISS)
    assert list(table.index) == FORMS
    assert table.index.name == "form"
    assert table["estimate"].round(2).tolist() == [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]


def test_icc_tests_and_intervals_match_psych_on_shrout_fleiss():
    """psych::ICC(ratings), RExRepos: F, df, p and 95% bounds (printed to 2-3 decimals)."""
    table = icc(SHROUT_FLEISS)
    assert table["F"].round(1).tolist() == [1.8, 11.0, 11.0, 1.8, 11.0, 11.0]
    assert table["df1"].tolist() == [5] * 6
    assert table["df2"].tolist() == [18, 15, 15, 18, 15, 15]
    assert table["p_value"].round(5).tolist() == [0.16477, 0.00013, 0.00013] * 2
    assert table["ci_low"].round(3).tolist() == [-0.133, 0.019, 0.342, -0.884, 0.071, 0.676]
    assert table["ci_high"].round(2).tolist() == [0.72, 0.76, 0.95, 0.91, 0.93, 0.99]
    assert (table["confidence"] == 0.95).all()


def test_icc_matches_psych_on_anxiety_to_seven_digits():
    """psych::ICC(anxiety): estimates and 95% bounds printed to 7 significant digits."""
    expected = {
        "ICC(1,1)": (0.1750225, -0.07744650, 0.4843362),
        "ICC(2,1)": (0.1979983, -0.03891068, 0.4935740),
        "ICC(3,1)": (0.2160493, -0.04625793, 0.5222590),
        "ICC(1,k)": (0.3889259, -0.27492318, 0.7380652),
        "ICC(2,k)": (0.4254988, -0.12658288, 0.7451493),
        "ICC(3,k)": (0.4525861, -0.15292145, 0.7663308),
    }
    table = icc(ANXIETY)
    for form, (estimate, low, high) in expected.items():
        # Some printed values differ from the exact ANOVA computation in the 7th digit (psych
        # obtains its mean squares from a fitted variance-component model by default), so
        # the tolerance is 5e-7 rather than half a unit of the last printed digit.
        assert table.loc[form, "estimate"] == pytest.approx(estimate, abs=5e-7)
        assert table.loc[form, "ci_low"] == pytest.approx(low, abs=5e-7)
        assert table.loc[form, "ci_high"] == pytest.approx(high, abs=5e-7)


def test_icc_agreement_k_interval_equals_mcgraw_wong_direct_formula():
    """ICC(A,k) limits: Spearman-Brown of ICC(A,1) limits equals McGraw & Wong's own formula.

    Independent computation of McGraw & Wong (1996) Table 7, case 2A, ICC(A,k):
    L = n (MSR - F* MSE) / (F* (MSC - MSE) + n MSR), U likewise with F_dagger.
    """
    x = ANXIETY.astype(float)
    n, k = x.shape
    grand = x.mean()
    msr = k * ((x.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    mse = (((x - grand) ** 2).sum() - (n - 1) * msr - (k - 1) * msc) / ((n - 1) * (k - 1))
    rho = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    a, b = k * rho / (n * (1 - rho)), 1 + k * rho * (n - 1) / (n * (1 - rho))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    f_star, f_dag = stats.f.ppf(0.975, n - 1, v), stats.f.ppf(0.975, v, n - 1)
    low = n * (msr - f_star * mse) / (f_star * (msc - mse) + n * msr)
    high = n * (f_dag * msr - mse) / (msc - mse + n * f_dag * msr)
    table = icc(ANXIETY)
    assert table.loc["ICC(2,k)", "ci_low"] == pytest.approx(low, rel=1e-10)
    assert table.loc["ICC(2,k)", "ci_high"] == pytest.approx(high, rel=1e-10)


def test_icc_accepts_a_wide_dataframe_and_respects_confidence():
    frame = pd.DataFrame(SHROUT_FLEISS, columns=["j1", "j2", "j3", "j4"])
    pd.testing.assert_frame_equal(icc(frame), icc(SHROUT_FLEISS))
    wide, narrow = icc(SHROUT_FLEISS), icc(SHROUT_FLEISS, confidence=0.80)
    assert (narrow["ci_low"] > wide["ci_low"]).all() and (narrow["ci_high"] < wide["ci_high"]).all()
    assert (narrow["confidence"] == 0.80).all()
    assert list(wide.columns) == [
        "description",
        "estimate",
        "ci_low",
        "ci_high",
        "F",
        "df1",
        "df2",
        "p_value",
        "confidence",
    ]
    assert wide.loc["ICC(2,1)", "description"] == "two-way random, absolute agreement, single rater"


def test_icc_consistency_ignores_a_rater_offset_but_agreement_does_not():
    base = np.asarray(SHROUT_FLEISS, dtype=float)
    shifted = base + np.array([0.0, 10.0, 0.0, 0.0])
    before, after = icc(base), icc(shifted)
    assert after.loc["ICC(3,1)", "estimate"] == pytest.approx(before.loc["ICC(3,1)", "estimate"])
    assert after.loc["ICC(2,1)", "estimate"] < before.loc["ICC(2,1)", "estimate"]


def test_icc_perfect_agreement_warns_and_returns_nan_tests():
    ratings = np.repeat(np.arange(5.0)[:, None], 3, axis=1)
    with pytest.warns(RuntimeWarning, match="mean square is 0"):
        table = icc(ratings)
    assert (table["estimate"] == 1.0).all()
    assert table[["ci_low", "ci_high", "F", "p_value"]].isna().all().all()


def test_icc_rejects_bad_input():
    with pytest.raises(ValueError, match="two-dimensional"):
        icc([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"at least 2 targets .* got 1 x 4"):
        icc([[1, 2, 3, 4]])
    with pytest.raises(ValueError, match=r"at least 2 targets .* got 3 x 1"):
        icc([[1], [2], [3]])
    frame = pd.DataFrame(SHROUT_FLEISS, index=list("abcdef"), dtype=float)
    frame.iloc[2, 1] = np.nan
    frame.iloc[4, 3] = np.inf
    with pytest.raises(
        ValueError, match=r"2 row\(s\) hold NaN or infinite values, e.g. \['c', 'e'\]"
    ):
        icc(frame)
    with pytest.raises(TypeError, match="real numbers"):
        icc([["a", "b"], ["c", "d"]])
    with pytest.raises(TypeError, match="real numbers"):
        icc(np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="confidence"):
        icc(SHROUT_FLEISS, confidence=1.5)


# -------------------------------------------------------------------------------- Cohen's kappa

SAS_TABLE = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]


def test_kappa_matches_sas_printout_unweighted():
    """SAS PROC FREQ AGREE: 0.4842, ASE 0.1380, CL 0.2137-0.7547, ASE0 0.1484, Z 3.2626."""
    a, b = _expand(SAS_TABLE)
    res = cohen_kappa(a, b)
    assert res.kappa == pytest.approx(0.4842, abs=5e-5)
    assert res.se == pytest.approx(0.1380, abs=5e-5)
    assert (res.ci.low, res.ci.high) == pytest.approx((0.2137, 0.7547), abs=5e-5)
    assert res.kappa / res.z == pytest.approx(0.1484, abs=5e-5)
    assert res.z == pytest.approx(3.2626, abs=5e-5)
    assert res.p_value == pytest.approx(0.0011, abs=5e-5)
    assert res.ci.method == "asymptotic" and res.ci.confidence == 0.95
    assert res.n == 19 and res.weights is None


def test_kappa_matches_sas_printout_linear_weights():
    """SAS weighted kappa (Cicchetti-Allison): 0.4701, ASE 0.1457, CL 0.1845-0.7558."""
    a, b = _expand(SAS_TABLE)
    res = cohen_kappa(a, b, weights="linear")
    assert res.kappa == pytest.approx(0.4701, abs=5e-5)
    assert res.se == pytest.approx(0.1457, abs=5e-5)
    assert (res.ci.low, res.ci.high) == pytest.approx((0.1845, 0.7558), abs=5e-5)
    assert res.kappa / res.z == pytest.approx(0.1426, abs=5e-5)
    assert res.z == pytest.approx(3.2971, abs=5e-5)
    assert res.p_value == pytest.approx(0.0010, abs=5e-5)


@pytest.mark.parametrize(
    ("weights", "kappa", "z", "p"),
    [
        (None, -0.006289308, -0.0604067, 0.9518317),
        ("linear", 0.1459075, 1.282472, 0.1996772),
        ("quadratic", 0.2520325, 1.437451, 0.1505898),
    ],
)
def test_kappa_matches_irr_kappa2_on_anxiety(weights, kappa, z, p):
    """irr::kappa2(anxiety[, 2:3], weight); categories = union of observed grades (no 5)."""
    res = cohen_kappa(ANXIETY[:, 1], ANXIETY[:, 2], weights=weights)
    assert res.categories == (1, 2, 3, 4, 6)
    # irr prints 7 significant digits.
    assert res.kappa == pytest.approx(kappa, abs=5e-8)
    assert res.z == pytest.approx(z, abs=5e-7)
    assert res.p_value == pytest.approx(p, abs=5e-8)


def test_kappa_matches_irr_kappa2_on_anxiety_raters_1_and_2():
    """Health-statistics page: 0.1195, 0.1892, 0.2968 and observed agreement 0.30."""
    a, b = ANXIETY[:, 0], ANXIETY[:, 1]
    assert round(cohen_kappa(a, b).kappa, 4) == 0.1195
    assert round(cohen_kappa(a, b, weights="linear").kappa, 4) == 0.1892
    assert round(cohen_kappa(a, b, weights="quadratic").kappa, 4) == 0.2968
    assert cohen_kappa(a, b).observed_agreement == pytest.approx(0.30)


def test_kappa_matches_irr_kappa2_in_rexrepos():
    """RExRepos: kappa 0.429, z 5.46, p 4.79e-08; weighted ("equal") 0.316, z 5.38, p 7.3e-08."""
    a, b = _expand([[53, 5, 2], [11, 14, 5], [1, 6, 3]], ["V", "N", "P"])
    res = cohen_kappa(a, b)
    assert (round(res.kappa, 3), round(res.z, 2)) == (0.429, 5.46)
    assert res.p_value == pytest.approx(4.79e-08, abs=5e-11)
    table = [
        [5, 8, 1, 2, 4, 2],
        [3, 5, 3, 5, 5, 0],
        [1, 2, 6, 11, 2, 1],
        [0, 1, 5, 4, 3, 3],
        [0, 0, 1, 2, 5, 2],
        [0, 0, 1, 2, 1, 4],
    ]
    tv1, tv2 = _expand(table, ["<10%", "11-20%", "21-30%", "31-40%", "41-50%", ">50%"])
    order = pd.CategoricalDtype(["<10%", "11-20%", "21-30%", "31-40%", "41-50%", ">50%"], True)
    res = cohen_kappa(pd.Series(tv1, dtype=order), pd.Series(tv2, dtype=order), weights="linear")
    assert (round(res.kappa, 3), round(res.z, 2)) == (0.316, 5.38)
    assert res.p_value == pytest.approx(7.3e-08, abs=5e-10)
    assert res.categories == tuple(order.categories)


def test_quadratic_kappa_matches_statsmodels_on_the_sas_skin_condition_data():
    """Independent implementation (statsmodels) on the SAS Getting Started agreement data."""
    skin = [[10, 4, 1, 0], [5, 10, 12, 2], [2, 4, 12, 5], [0, 2, 6, 13]]
    a, b = _expand(skin)
    for ours, theirs in (
        (cohen_kappa(a, b), sm_cohens_kappa(skin)),
        (cohen_kappa(a, b, weights="quadratic"), sm_cohens_kappa(skin, wt="quadratic")),
    ):
        assert ours.kappa == pytest.approx(theirs.kappa, rel=1e-10)
        assert ours.se == pytest.approx(theirs.std_kappa, rel=1e-10)
        assert ours.kappa / ours.z == pytest.approx(theirs.std_kappa0, rel=1e-10)


def test_kappa_category_handling():
    # Unweighted kappa does not depend on the labels or on which rater is first.
    a, b = _expand(SAS_TABLE)
    relabelled = cohen_kappa([f"c{x}" for x in a], [f"c{x}" for x in b])
    assert relabelled.kappa == pytest.approx(cohen_kappa(a, b).kappa)
    assert cohen_kappa(b, a).kappa == pytest.approx(cohen_kappa(a, b).kappa)
    # Integer grades are sorted numerically (not as text) for weighting.
    assert cohen_kappa([10, 2, 9, 1], [9, 2, 10, 1]).categories == (1, 2, 9, 10)
    # Unorderable mixed labels keep their order of first appearance.
    assert cohen_kappa(["x", 1, "x"], [1, "x", "x"]).categories == ("x", 1)
    assert isinstance(cohen_kappa(a, b), CohenKappa)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cohen_kappa(a, b).kappa = 0.0  # type: ignore[misc]


def test_kappa_single_category_is_nan_with_warning():
    with pytest.warns(RuntimeWarning, match="chance agreement is 1"):
        res = cohen_kappa(["a"] * 5, ["a"] * 5, weights="linear")
    assert math.isnan(res.kappa) and math.isnan(res.se) and math.isnan(res.p_value)
    assert math.isnan(res.ci.low) and math.isnan(res.ci.high)
    assert res.observed_agreement == 1.0 and res.expected_agreement == 1.0


def test_kappa_rejects_bad_input():
    with pytest.raises(ValueError, match="a and b must have the same length; got 3 and 2"):
        cohen_kappa([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"b must not contain missing labels.*index 1"):
        cohen_kappa([1, 2, 3], [1, None, 3])
    with pytest.raises(ValueError, match="a must not contain missing labels"):
        cohen_kappa([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        cohen_kappa([], [])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        cohen_kappa([[1, 2]], [[1, 2]])
    with pytest.raises(ValueError, match="weights must be one of 'linear', 'quadratic'"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weights must be one of"):
        cohen_kappa([1, 2], [1, 2], weights=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence"):
        cohen_kappa([1, 2], [1, 2], confidence=0.0)
    grades = pd.Categorical(["low", "high"], categories=["low", "high"], ordered=True)
    with pytest.raises(ValueError, match=r"labels \['mid'\] that are not among the ordered"):
        cohen_kappa(grades, ["low", "mid"], weights="linear")


# ------------------------------------------------------------------------------------ Lin's CCC

WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]
# StatsToDo example: intra-arterial (gold standard), cuff manometer.
BP = np.array(
    [
        [127, 134], [118, 120], [135, 142], [123, 115], [112, 117], [119, 123],
        [125, 125], [109, 111], [106, 122], [110, 115], [111, 109], [125, 127],
        [119, 118], [140, 139], [115, 111], [110, 110], [122, 122], [119, 115],
        [134, 137], [105, 105], [117, 112], [111, 113], [114, 115], [126, 119],
        [113, 115], [129, 127], [130, 129], [130, 130], [115, 120], [131, 126],
    ],
    dtype=float,
)  # fmt: skip


def _textbook_ccc(x, y, confidence=0.95):
    """Lin (1989, corrected 2000) in its original form, as written in epiR/Stata concord."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    k = len(x)
    sx2, sy2 = np.var(x), np.var(y)
    r = np.corrcoef(x, y)[0, 1]
    p = 2 * r * math.sqrt(sx2 * sy2) / (sx2 + sy2 + (y.mean() - x.mean()) ** 2)
    u = (y.mean() - x.mean()) / (sx2 * sy2) ** 0.25
    sep = math.sqrt(
        (
            (1 - r**2) * p**2 * (1 - p**2) / r**2
            + 2 * p**3 * (1 - p) * u**2 / r
            - 0.5 * p**4 * u**4 / r**2
        )
        / (k - 2)
    )
    t = math.log((1 + p) / (1 - p)) / 2
    set_ = sep / (1 - p**2)
    zv = stats.norm.ppf(1 - (1 - confidence) / 2)
    return p, math.tanh(t - zv * set_), math.tanh(t + zv * set_), p / r, u, math.sqrt(sy2 / sx2)


def test_ccc_summary_statistics_match_statstodo():
    """StatsToDo: n 30, means 120 and 120.77, SDs 9.27 and 9.34, precision 0.87."""
    res = lin_ccc(BP[:, 0], BP[:, 1])
    assert res.n == 30
    assert (round(BP[:, 0].mean(), 2), round(BP[:, 1].mean(), 2)) == (120.0, 120.77)
    assert (round(BP[:, 0].std(ddof=1), 2), round(BP[:, 1].std(ddof=1), 2)) == (9.27, 9.34)
    assert round(res.precision, 2) == 0.87
    assert res.scale_shift == pytest.approx(9.34 / 9.27, abs=2e-3)


@pytest.mark.parametrize(
    ("x", "y", "confidence"),
    [(BP[:, 0], BP[:, 1], 0.95), (WRIGHT, MINI, 0.95), (WRIGHT, MINI, 0.90)],
)
def test_ccc_matches_independent_textbook_computation(x, y, confidence):
    rho_c, low, high, c_b, u, v = _textbook_ccc(x, y, confidence)
    res = lin_ccc(x, y, confidence=confidence)
    assert res.ccc == pytest.approx(rho_c, rel=1e-12)
    assert (res.ci.low, res.ci.high) == pytest.approx((low, high), rel=1e-10)
    assert res.accuracy == pytest.approx(c_b, rel=1e-12)
    assert res.location_shift == pytest.approx(u, rel=1e-10)
    assert res.scale_shift == pytest.approx(v, rel=1e-12)
    assert res.ci == Interval(res.ci.low, res.ci.high, confidence, "z-transform")


def test_ccc_satisfies_lins_identities():
    """Lin (1989): rho_c = 1 - E(x-y)^2 / (s_x^2 + s_y^2 + (mx-my)^2) = r * C_b, |rho_c| <= |r|."""
    x, y = np.asarray(WRIGHT, float), np.asarray(MINI, float)
    res = lin_ccc(x, y)
    msd = ((x - y) ** 2).mean()
    assert res.ccc == pytest.approx(1 - msd / (x.var() + y.var() + (x.mean() - y.mean()) ** 2))
    assert res.ccc == pytest.approx(res.precision * res.accuracy)
    assert abs(res.ccc) <= abs(res.precision)
    assert res.ci.low < res.ccc < res.ci.high


def test_ccc_shift_lowers_accuracy_not_precision():
    x = BP[:, 0]
    base, shifted, scaled = lin_ccc(x, BP[:, 1]), lin_ccc(x, BP[:, 1] + 10), lin_ccc(x, 2 * x)
    assert shifted.precision == pytest.approx(base.precision)
    assert shifted.accuracy < base.accuracy and shifted.ccc < base.ccc
    assert shifted.location_shift > base.location_shift > 0
    assert scaled.precision == pytest.approx(1.0) and scaled.scale_shift == pytest.approx(2.0)
    swapped = lin_ccc(BP[:, 1], x)
    assert swapped.ccc == pytest.approx(base.ccc)
    assert swapped.location_shift == pytest.approx(-base.location_shift)
    assert isinstance(base, ConcordanceCorrelation)


def test_ccc_degenerate_cases_warn_and_return_nan():
    with pytest.warns(RuntimeWarning, match="perfect concordance"):
        res = lin_ccc([1.0, 2.0, 4.0], [1.0, 2.0, 4.0])
    assert res.ccc == pytest.approx(1.0) and math.isnan(res.ci.low) and math.isnan(res.ci.high)
    with pytest.warns(RuntimeWarning, match="constant"):
        res = lin_ccc([3.0, 3.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0])
    assert res.ccc == 0.0 and math.isnan(res.precision) and math.isnan(res.ci.low)
    with pytest.warns(RuntimeWarning, match="constant"):
        res = lin_ccc([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    assert math.isnan(res.ccc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin_ccc(WRIGHT, MINI)  # no warning on ordinary data


def test_ccc_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 3 pairs for Lin's CCC interval; got n=2"):
        lin_ccc([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="x and y must have the same length; got 3 and 4"):
        lin_ccc([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="y must contain only finite values"):
        lin_ccc([1, 2, 3], [1, np.nan, 3])
    with pytest.raises(TypeError, match="x must hold real numbers"):
        lin_ccc(["a", "b", "c"], [1, 2, 3])
    with pytest.raises(ValueError, match="confidence"):
        lin_ccc([1, 2, 3], [1, 2, 4], confidence=1.0)
