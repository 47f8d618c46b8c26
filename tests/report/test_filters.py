"""Number formatting happens only in the report's Jinja filters."""

from __future__ import annotations

import math

import pytest

from validation.report import filters as f
from validation.report.document import make_environment
from validation.report.outputs import measure_context


def _render(source: str, unit: str, precision: int, **values: object) -> str:
    """``source`` rendered as a report template with a protocol measurement in ``unit``."""
    measurement = {"name": "m", "label": "M", "unit": unit, "precision": precision}
    measure = measure_context({"measurement": measurement})
    return make_environment().from_string(source).render(measure=measure, **values)


@pytest.mark.parametrize("missing", [None, math.nan, float("nan")])
def test_undefined_values_show_as_na(missing: object) -> None:
    for fn in (f.num, f.measure, f.pct, f.count, f.pvalue, f.ratio):
        assert fn(missing) == "n/a"
    assert f.ci(missing, missing) == "n/a"
    assert f.value(missing, "mm") == "n/a"


def test_measure_uses_minus_sign_optional_plus_and_its_unit() -> None:
    assert f.measure(-1.234, "mm") == "\u22121.23"
    assert f.measure(0.41, "mm", sign=True, symbol=True) == "+0.41 mm"
    assert f.measure(-0.001, "mm", sign=True) == "0.00"
    assert f.measure(62.04, "%", 1, symbol=True) == "62.0 %"
    assert f.measure(-1.5, "%", 1, sign=True, symbol=True, difference=True) == "\u22121.5 pp"
    assert f.measure(412.25, "ms", 1, symbol=True) == "412.2 ms"
    assert f.measure(0.5, "1", 3, symbol=True) == "0.500"


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


def test_a_percent_measurement_is_not_a_proportion() -> None:
    # an LVEF in %: a goal of +-5 points on the bias is 5 percentage points, never 500 %
    assert f.value(5, "%", 1) == "5.0"
    assert f.suffix("%") == " pp"
    assert f.diff(5, "%", 1, sign=False) == "5.0 pp"
    assert f.ci(-5, 5, "%", 1) == "\u22125.0 to 5.0"
    text = _render(
        "{{ lo|value(u) }}{{ u|suffix }} / {{ hi|value(u, sign=True) }}{{ u|suffix }}",
        "%",
        0,
        lo=-5,
        hi=5,
        u="%",
    )
    assert text == "\u22125.0 pp / +5.0 pp"
    assert "500" not in text
    # a proportion is still a proportion
    assert f.value(0.05, "") == "5.0%" and f.suffix("") == ""


@pytest.mark.parametrize(
    ("unit", "precision", "expected"),
    [
        ("mm", 1, "\u22121.50 mm to +1.50 mm; CI \u22121.50 to 1.50"),
        ("%", 0, "\u22121.5 pp to +1.5 pp; CI \u22121.5 to 1.5"),
        ("ms", 0, "\u22121.5 ms to +1.5 ms; CI \u22121.5 to 1.5"),
        ("mL", 2, "\u22121.500 mL to +1.500 mL; CI \u22121.500 to 1.500"),
        ("1", 2, "\u22121.500 to +1.500; CI \u22121.500 to 1.500"),
    ],
)
def test_goals_print_in_the_measurements_unit_and_digits(
    unit: str, precision: int, expected: str
) -> None:
    source = (
        "{{ lo|measure(sign=True, symbol=True, difference=True) }} to "
        "{{ hi|measure(sign=True, symbol=True, difference=True) }}; CI {{ [lo, hi]|ci }}"
    )
    assert _render(source, unit, precision, lo=-1.5, hi=1.5) == expected


def test_readings_keep_their_symbol_and_the_precision() -> None:
    text = _render(
        "{{ x|measure(measure.precision, symbol=True) }} ({{ measure.axis }})", "%", 0, x=61.6
    )
    assert text == "62 % (M (%))"
