"""Number formatting happens only in the report's Jinja filters."""

from __future__ import annotations

import math

import pytest

from validation.report import filters as f


@pytest.mark.parametrize("missing", [None, math.nan, float("nan")])
def test_undefined_values_show_as_na(missing: object) -> None:
    for fn in (f.num, f.mm, f.pct, f.count, f.pvalue, f.ratio):
        assert fn(missing) == "n/a"
    assert f.ci(missing, missing) == "n/a"
    assert f.value(missing, "mm") == "n/a"


def test_mm_uses_minus_sign_and_optional_plus() -> None:
    assert f.mm(-1.234) == "\u22121.23"
    assert f.mm(0.41, sign=True, unit=True) == "+0.41 mm"
    assert f.mm(-0.001, sign=True) == "0.00"


def test_pct_and_value_by_unit() -> None:
    assert f.pct(0.8734) == "87.3%"
    assert f.value(0.8734, "") == "87.3%"
    assert f.value(0.8734, "mm") == "0.87"
    assert f.value(6.4712, "ratio") == "6.47"
    assert f.value(0.04567, "slope") == "0.046"


def test_ci_accepts_pair_or_bounds() -> None:
    assert f.ci(0.33, 0.49) == "0.33 to 0.49"
    assert f.ci([-1.5, -0.25]) == "\u22121.50 to \u22120.25"
    assert f.ci([0.812, 0.93], unit="") == "81.2% to 93.0%"


def test_pvalue() -> None:
    assert f.pvalue(0.0001) == "< 0.001"
    assert f.pvalue(0.5) == "0.500"
    assert f.pvalue(0.0123, label=True) == "p = 0.012"
    assert f.pvalue(0.0001, label=True) == "p < 0.001"


def test_sha_short_utc_count() -> None:
    assert f.sha_short("a" * 64) == "a" * 12 + "\u2026"
    assert f.utc("2026-11-25T15:02:11Z") == "2026-11-25 15:02:11 UTC"
    assert f.count(1234567) == "1,234,567"


def test_differences_are_signed_in_their_unit() -> None:
    assert f.diff(-0.0132, "") == "\u22121.3 pp"
    assert f.diff(0.05, "", sign=False) == "5.0 pp"
    assert f.diff(0.3456, "mm") == "+0.35 mm"
    assert f.diff(0.0143, "index") == "+0.014"
    assert f.diff_ci(-0.062, 0.036, "") == "\u22126.2 to +3.6 pp"
    assert f.diff_ci([-0.43, -0.22], unit="mm") == "\u22120.43 to \u22120.22 mm"
    assert f.diff(None, "mm") == f.diff_ci(None, None) == "n/a"
