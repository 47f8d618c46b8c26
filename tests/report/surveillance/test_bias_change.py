"""The change of the audited bias since validation in the surveillance report: the statistic
stated, the table and the chart equal to ``bias_change`` of ``surveillance.json``, the power
table, the weighted false-alarm split and the alert that shows its months."""

from __future__ import annotations

import copy
from typing import Any

import matplotlib.colors
import numpy as np
import pytest

from tests.report.surveillance.conftest import squash, table_rows
from tests.surveillance.fake_surveillance import MIN_SHIFT, MONTHS, NO_AGREEMENT
from validation.report.figures.style import FAIL
from validation.report.figures.surveillance.performance import bias_change_figure
from validation.report.filters import count, measure, num, pct, prob
from validation.report.segments import segment_label
from validation.report.surveillance import build_surveillance_context, render_surveillance_html


def mm(x, digits=2, *, sign=False, unit=False):
    """A value of the demo protocol's measurement (in mm) as the reports print it."""
    return measure(x, "mm", digits, sign=sign, symbol=unit)


def _bias_segments(data: dict) -> dict[tuple[str, str], dict[str, Any]]:
    """Per segment (report order): its agreement, calibration and monthly records."""
    bc = data["bias_change"]
    keys = [(s["site"], s["vendor"]) for s in data["segments"]]
    keys = sorted(keys, key=lambda k: (k == ("*", "*"), k))
    agreement = {(s["site"], s["vendor"]): s.get("agreement") for s in data["baseline"]["segments"]}
    return {
        k: {
            "agreement": agreement[k],
            "calibration": next((c for c in bc["segments"] if (c["site"], c["vendor"]) == k), None),
            "months": [r for r in bc["months"] if (r["site"], r["vendor"]) == k],
        }
        for k in keys
    }


def _bias_change_rows(data: dict) -> list[list[str]]:
    """The bias-change table's rows as the JSON says them."""
    expected = []
    for (site, vendor), seg in _bias_segments(data).items():
        agr, cal, months = seg["agreement"], seg["calibration"], seg["months"]
        label = segment_label(site, vendor)
        if cal is None:
            expected.append(
                [
                    label,
                    *["n/a"] * 5,
                    "none",
                    "none",
                    "n/a",
                    "n/a",
                    "not assessed: no agreement record in the validation baseline",
                ]
            )
            continue
        peak = max(months, key=lambda r: abs(r["t"]))
        window = MONTHS.index(peak["month"]) - MONTHS.index(peak["window_start"]) + 1
        alarms = [r["month"] for r in months if r["alarm"]]
        expected.append(
            [
                label,
                mm(agr["bias"], sign=True),
                mm(agr["sd"]),
                count(cal["n0"]),
                count(cal["audited_per_month"]),
                num(peak["t"], 2),
                peak["month"],
                str(window),
                mm(peak["change_mm"], sign=True),
                num(cal["limit"], 2),
                f"\u2717 ALARM from {alarms[0]}" if alarms else "no alarm",
            ]
        )
    return expected


@pytest.mark.slow
def test_bias_change_subsection_states_the_statistic(text: str, data: dict) -> None:
    flat = " ".join(text.split())
    assert "8.2 Change of the audited bias since validation" in flat
    assert "counts the validation study's own sampling error" in flat
    assert "T is read by month of acquisition" in flat
    assert f"at least {mm(MIN_SHIFT, 1)} mm (the materiality gate)" in flat
    limits = [c["limit"] for c in data["bias_change"]["segments"]]
    assert f"limit (from {num(min(limits), 2)} to {num(max(limits), 2)})" in flat
    assert f"probability at most {prob(data['bias_change']['alpha'])}" in flat


def test_bias_change_table_equals_the_json(html: str, data: dict) -> None:
    rows = table_rows(html, "sv-bias-change")
    assert rows == _bias_change_rows(data)
    shifted = next(r for r in rows if r[0] == "s02 \u00b7 GE")
    assert shifted[-1] == "\u2717 ALARM from 2027-02" and shifted[6:8] == ["2027-03", "3"]


@pytest.mark.slow
def test_bias_change_table_is_in_the_pdf(text: str, data: dict) -> None:
    flat = squash(text)
    for row in _bias_change_rows(data):
        assert squash("".join(row)) in flat, row  # the same row, in order, in the PDF


def test_bias_change_figure_draws_t_limits_alarms_and_pending(html: str, data: dict) -> None:
    assert 'id="fig-bias-change"' in html
    segs = _bias_segments(data)
    limits = {k: s["calibration"]["limit"] for k, s in segs.items() if s["calibration"] is not None}
    records = data["bias_change"]["months"]
    pending = data["labels"]["pending_months"]
    fig = bias_change_figure(records, MONTHS, keys=list(segs), limits=limits, pending=pending)
    panels = {ax.get_title(loc="left").split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {segment_label(*k) for k in segs}
    alarmed = panels["s02 \u00b7 GE"]
    assert alarmed.get_title(loc="left").endswith("ALARM from 2027-02")
    assert matplotlib.colors.same_color(alarmed.spines["left"].get_edgecolor(), FAIL)
    for key, ax in panels.items():
        if key != "s02 \u00b7 GE":
            assert "ALARM" not in ax.get_title(loc="left")
    # the signed T of the JSON, and the limits dashed at plus and minus the segment's limit
    series = [ln for ln in alarmed.get_lines() if len(ln.get_xdata()) == len(MONTHS)]
    t = {r["month"]: r["t"] for r in records if (r["site"], r["vendor"]) == ("s02", "GE")}
    assert np.allclose(series[0].get_ydata(), [t[m] for m in MONTHS])
    for key, limit in limits.items():
        ax = panels[segment_label(*key)]
        dashed = [
            ln
            for ln in ax.get_lines()
            if ln.get_linestyle() == "--" and ln.get_xdata()[0] != ln.get_xdata()[-1]
        ]  # horizontal dashed lines (the onset line is vertical)
        assert {round(float(ln.get_ydata()[0]), 6) for ln in dashed} == {limit, -limit}
    # the months awaiting labels are hatched; the segment without agreement says so
    hatched = [c for c in alarmed.patches if c.get_hatch() == "///"]
    assert len(hatched) == len(pending)
    quiet = panels[segment_label(*NO_AGREEMENT)]
    assert [t.get_text() for t in quiet.texts] == ["not assessed"]


def test_bias_change_power_table(html: str, data: dict) -> None:
    power = data["bias_change"]["power"]
    expected = [
        [mm(r["shift_mm"], 1)] + [pct(r["by_months_after_onset"][str(k)], 0) for k in range(4)]
        for r in power["rows"]
    ]
    assert table_rows(html, "sv-power") == expected
    without = copy.deepcopy(data)
    without["bias_change"]["power"] = None  # a run with no segment to describe
    markup = render_surveillance_html(build_surveillance_context(without))
    assert "sv-power" not in markup and "What this plan can detect" not in markup
    assert 'class="data sv-output sv-bias-change"' in markup


@pytest.mark.slow
def test_bias_change_power_table_in_the_pdf(text: str, data: dict) -> None:
    power = data["bias_change"]["power"]
    flat = " ".join(text.split())
    assert "What this plan can detect" in flat
    assert "By the onset month's run" in flat and "By +3 months" in flat
    assert f"Simulated ({count(power['draws'])} histories) for a segment of the stated size" in flat
    assert f"n0 = {power['n0']} validation studies" in flat.replace("n 0", "n0")


def test_false_alarm_lists_the_audited_bias_limits(html: str, data: dict) -> None:
    expected = [
        [
            segment_label(c["site"], c["vendor"]),
            count(c["n0"]),
            count(c["audited_per_month"]),
            num(c["limit"], 2),
            count(c["draws"]),
            str(c["seed"]),
        ]
        for c in sorted(
            data["bias_change"]["segments"],
            key=lambda c: (c["site"] == "*", c["site"], c["vendor"]),
        )
    ]
    assert table_rows(html, "sv-bias-limits") == expected


@pytest.mark.slow
def test_false_alarm_states_the_weighted_split(text: str, data: dict) -> None:
    fa = data["false_alarm"]
    total = fa["streams"] + fa["bias_weight"] * fa["bias_streams"]
    flat = " ".join(text.split())
    assert (
        f"each audited-bias stream has weight {num(fa['bias_weight'], 0)} and every other "
        f"stream weight 1, a total weight of {num(total, 0)} ({fa['streams']} + "
        f"{num(fa['bias_weight'], 0)} \u00d7 {fa['bias_streams']})"
    ) in flat
    assert f"at most {prob(fa['per_stream_alpha'])} (0.05 / {num(total, 0)})" in flat
    assert f"each audited-bias stream {prob(fa['bias_alpha'])}" in flat


def test_bias_change_alert_shows_its_months(html: str, context: dict, data: dict) -> None:
    alert = data["alerts"][2]
    assert alert["signal"] == "performance" and "bias-change" in alert["variables"]
    records = [
        r for r in data["bias_change"]["months"] if (r["site"], r["vendor"]) == ("s02", "GE")
    ]
    shown = [r for r in records if r["alarm"] or r["month"] in alert["months"]]
    rows = table_rows(html, "sv-bias-evidence")
    assert [r[0] for r in rows] == [r["month"] for r in shown]
    assert [r[6] for r in rows] == [num(r["t"], 2) for r in shown]
    assert [("alarm" in r[-1]) for r in rows] == [r["alarm"] for r in shown]
    # the bias panels of the premarket goals mark only the goal alerts
    assert "s02 \u00b7 GE (from 2027-01)" in context["performance"]["figure"]["caption"]
    bias_only = copy.deepcopy(data)
    bias_only["alerts"][2]["variables"] = ["bias-change"]
    other = build_surveillance_context(bias_only)
    assert "Alarmed" not in other["performance"]["figure"]["caption"]
    assert "s02 \u00b7 GE (from 2027-02)" in other["bias_change"]["figure"]["caption"]
    assert not other["alerts"][2]["performance"] and other["alerts"][2]["bias_change"]
