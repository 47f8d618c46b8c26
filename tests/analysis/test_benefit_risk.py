"""Expected outcomes per 1,000 patients and the measurement error in plain terms.

Sources:

- Gigerenzer G, Gaissmaier W, Kurz-Milcke E, Schwartz LM, Woloshin S. Helping doctors and
  patients make sense of health statistics. Psychol Sci Public Interest. 2007;8(2):53-96, the
  mammography problem in natural frequencies: prevalence 1%, sensitivity 90%, false-positive
  rate 9% give, per 1,000 women, 10 with cancer of whom 9 test positive, and about 89 of the
  990 without cancer who test positive.
- The share of a normal distribution within ±1.96 and ±2.576 SD (standard normal table:
  0.9500 and 0.9900), i.e. the coverage of the 95% and 99% limits of agreement (Bland &
  Altman, Lancet 1986).
- The ranges are checked against the counts written out by hand from the interval bounds.
"""

from __future__ import annotations

import math

import pytest

from validation.analysis.benefit_risk import benefit_risk

AGREEMENT = {
    "n": 200,
    "bias": 0.4,
    "bias_ci": [0.3, 0.5],
    "loa_low": -1.6,
    "loa_high": 2.4,
    "loa_low_ci": [-1.8, -1.4],
    "loa_high_ci": [2.2, 2.6],
    "loa_multiplier": 1.96,
    "mae": 0.8,
}


def _cls(prev, sens, spec):
    def block(value):
        est, low, high = value if isinstance(value, tuple) else (value, value, value)
        return {"estimate": est, "ci_low": low, "ci_high": high}

    return {
        "n": 1000,
        "prevalence": block(prev),
        "sensitivity": block(sens),
        "specificity": block(spec),
    }


def test_gigerenzer_mammography_natural_frequencies():
    out = benefit_risk(_cls(0.01, 0.90, 0.91), AGREEMENT)["classification"]
    assert out["with_condition"] == pytest.approx(10)
    assert out["without_condition"] == pytest.approx(990)
    assert out["true_positive"]["estimate"] == pytest.approx(9)
    assert out["false_negative"]["estimate"] == pytest.approx(1)
    assert round(out["false_positive"]["estimate"]) == 89
    assert out["flagged"] == pytest.approx(9 + 89.1)
    assert out["flagged_with_condition"] == pytest.approx(9)


def test_ranges_come_from_the_interval_bounds():
    cls = _cls((0.25, 0.2, 0.3), (0.9, 0.8, 0.95), (0.8, 0.7, 0.9))
    out = benefit_risk(cls, AGREEMENT)["classification"]
    # 250 with LVH; missed = 250 * (1 - sens): 25, from 250 * 0.05 to 250 * 0.2
    assert [out["false_negative"][k] for k in ("estimate", "low", "high")] == pytest.approx(
        [25.0, 12.5, 50.0]
    )
    assert [out["true_positive"][k] for k in ("estimate", "low", "high")] == pytest.approx(
        [225.0, 200.0, 237.5]
    )
    # 750 without; false alarms = 750 * (1 - spec): 150, from 75 to 225
    assert [out["false_positive"][k] for k in ("estimate", "low", "high")] == pytest.approx(
        [150.0, 75.0, 225.0]
    )
    assert [out["true_negative"][k] for k in ("estimate", "low", "high")] == pytest.approx(
        [600.0, 525.0, 675.0]
    )
    counts = ("true_positive", "false_negative", "true_negative", "false_positive")
    assert sum(out[k]["estimate"] for k in counts) == pytest.approx(1000)
    assert out["prevalence_ci"] == [0.2, 0.3] and out["estimable"] is True


def test_per_scales_the_counts():
    cls = _cls(0.25, 0.9, 0.8)
    out = benefit_risk(cls, AGREEMENT, per=100)["classification"]
    assert out["per"] == 100 and out["false_negative"]["estimate"] == pytest.approx(2.5)


@pytest.mark.parametrize(("multiplier", "coverage"), [(1.96, 0.9500), (2.576, 0.9900)])
def test_limits_of_agreement_coverage_in_plain_words(multiplier, coverage):
    ms = benefit_risk(_cls(0.25, 0.9, 0.8), {**AGREEMENT, "loa_multiplier": multiplier})[
        "measurement"
    ]
    assert ms["coverage"] == pytest.approx(coverage, abs=5e-5)
    assert ms["within"] == pytest.approx(100 * coverage, abs=5e-3)
    assert (ms["loa_low"], ms["loa_high"]) == (-1.6, 2.4)
    assert (ms["loa_low_outer"], ms["loa_high_outer"]) == (-1.8, 2.6)
    assert ms["mae"] == 0.8 and ms["estimable"] is True


@pytest.mark.parametrize(
    ("bias_ci", "direction"), [([0.3, 0.5], "over"), ([-0.5, -0.1], "under"), ([-0.1, 0.2], "none")]
)
def test_bias_direction_is_read_from_the_interval(bias_ci, direction):
    ms = benefit_risk(_cls(0.25, 0.9, 0.8), {**AGREEMENT, "bias_ci": bias_ci})["measurement"]
    assert ms["direction"] == direction


def test_not_estimable_blocks_give_nan_and_a_flag():
    out = benefit_risk({"n": 0}, {"n": 2})
    assert out["classification"]["estimable"] is False
    assert math.isnan(out["classification"]["false_negative"]["estimate"])
    assert out["measurement"]["estimable"] is False
    assert math.isnan(out["measurement"]["loa_low"])
    assert out["measurement"]["direction"] == "none"


def test_null_values_from_json_are_nan():
    cls = _cls(0.25, 0.9, 0.8)
    cls["sensitivity"] = {"estimate": None, "ci_low": None, "ci_high": None}
    out = benefit_risk(cls, AGREEMENT)["classification"]
    assert out["estimable"] is False and math.isnan(out["true_positive"]["low"])


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match=r"classification must be a mapping.*got list"):
        benefit_risk([], AGREEMENT)
    with pytest.raises(TypeError, match=r"agreement must be a mapping.*got str"):
        benefit_risk(_cls(0.25, 0.9, 0.8), "x")
    with pytest.raises(TypeError, match="per must be a positive integer; got 0"):
        benefit_risk(_cls(0.25, 0.9, 0.8), AGREEMENT, per=0)
    with pytest.raises(TypeError, match="per must be a positive integer; got True"):
        benefit_risk(_cls(0.25, 0.9, 0.8), AGREEMENT, per=True)
