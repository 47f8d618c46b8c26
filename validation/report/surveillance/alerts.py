"""The alerts of the surveillance report: the signals in plain words, each alert with its
evidence (the rows of its section behind it, and the chart of an alarmed output stream), and
the alarmed segments of the status summary and the conclusions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from validation.numbers import as_float
from validation.report.figures.surveillance.charts import (
    MEAN,
    RATE,
    alert_chart,
    alert_chart_figure,
)
from validation.report.labels import humanize
from validation.report.outputs import (
    finding_context,
    measure_context,
    outputs_of,
    present,
    text_words,
)
from validation.report.segments import Key, segment_key, segment_label, segment_order
from validation.report.text import load_text

#: The ``performance`` signal's variable of the audited-bias change (signals.csv, alerts).
BIAS_CHANGE = "bias-change"
#: Number of decimals of an alert's statistic and threshold, by signal (others: 2).
ALERT_DIGITS: dict[str, int] = {"header": 0, "population": 3, "input": 3}
#: The evidence an alert can carry: its figure, and the rows of each kind.
EVIDENCE = ("drift", "performance", "integrity", "header", "bias_change")


def signal(name: Any, words: Mapping[str, str]) -> dict[str, str]:
    """A signal in plain words: ``{"id", "name", "what"}`` (``reports/text/surveillance.yaml``,
    its placeholders filled with ``words``, see :func:`validation.report.outputs.text_words`;
    an unknown signal by its humanised name)."""
    known = load_text("surveillance", words=words)["signals"].get(str(name))
    if known is None:
        return {"id": str(name), "name": humanize(name), "what": ""}
    return {"id": str(name), "name": known["name"], "what": known["what"]}


def signals(
    alerts: Sequence[Mapping[str, Any]], outputs: Mapping[str, Any]
) -> list[dict[str, str]]:
    """The monitored signals in the text file's order, then any other signal an alert names;
    a signal about an output the protocol lacks (its ``output``) is left out unless an alert
    names it."""
    listed = load_text("surveillance")["signals"]
    order = list(listed)
    declared = present(outputs)
    monitored = {k for k, v in listed.items() if not v.get("output") or v["output"] in declared}
    used = sorted(
        monitored | {a["signal"]["id"] for a in alerts},
        key=lambda s: order.index(s) if s in order else len(order),
    )
    words = text_words(outputs)
    return [signal(s, words) for s in used]


def alerts(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The alerts of ``surveillance.json`` for the templates, numbered with their anchors."""
    words = text_words(outputs_of(data))
    out = []
    for i, alert in enumerate(data["alerts"]):
        key = segment_key(alert)
        out.append(
            {
                "index": i + 1,
                "anchor": f"alert-{i + 1}",
                "site": key[0],
                "vendor": key[1],
                "segment": segment_label(*key),
                "signal": signal(alert["signal"], words),
                "onset": str(alert["onset"]),
                "statistic": alert["statistic"],
                "threshold": alert["threshold"],
                "digits": ALERT_DIGITS.get(str(alert["signal"]), 2),
                "evidence": str(alert["evidence"]),
                "months": [str(m) for m in alert["months"]],
                "variables": [str(v) for v in alert.get("variables") or []],
            }
        )
    return out


def onsets(
    alerts: Sequence[Mapping[str, Any]], name: str, *, exclude: Iterable[str] = ()
) -> dict[Key, str]:
    """Earliest onset per segment of the signal ``name``'s alerts, leaving out the alerts whose
    recorded variables are all in ``exclude`` (an alert without recorded variables always
    counts)."""
    skip = set(exclude)
    out: dict[Key, str] = {}
    for a in alerts:
        if a["signal"]["id"] == name and not (a["variables"] and set(a["variables"]) <= skip):
            key = (a["site"], a["vendor"])
            out[key] = min(out.get(key, a["onset"]), a["onset"])
    return out


def alarmed_segments(alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each alarmed segment with its first onset and its alarmed signals."""
    by: dict[Key, list[Mapping[str, Any]]] = {}
    for a in alerts:
        by.setdefault((a["site"], a["vendor"]), []).append(a)
    return [
        {
            "segment": segment_label(*key),
            "onset": min(a["onset"] for a in by[key]),
            "signals": [{"name": a["signal"]["name"], "onset": a["onset"]} for a in by[key]],
        }
        for key in segment_order(by)
    ]


def _in_alert(row: Mapping[str, Any], alert: Mapping[str, Any]) -> bool:
    """A row of an alert's evidence: alarmed, or in one of its months."""
    return bool(row["alarm"]) or row["month"] in alert["months"]


def _performance_evidence(
    alert: Mapping[str, Any],
    key: Key,
    performance: Mapping[str, Any],
    bias_change: Mapping[str, Any] | None,
) -> dict[str, list[Mapping[str, Any]]]:
    """The audited performance behind a ``performance`` alert: the goal rows, and the
    audited-bias change rows when the alert names that variable."""
    variables = set(alert["variables"])
    out: dict[str, list[Mapping[str, Any]]] = {}
    if not variables or variables - {BIAS_CHANGE}:
        out["performance"] = [
            r for r in performance["all"] if (r["site"], r["vendor"]) == key and _in_alert(r, alert)
        ]
    if BIAS_CHANGE in variables and bias_change:
        out["bias_change"] = [r for r in bias_change["records"].get(key, []) if _in_alert(r, alert)]
    return out


def attach_evidence(
    data: Mapping[str, Any],
    alerts: list[dict[str, Any]],
    months: Sequence[str],
    *,
    drift: Mapping[str, Any],
    performance: Mapping[str, Any],
    integrity_rows: Sequence[Mapping[str, Any]],
    header: Sequence[Mapping[str, Any]],
    bias_change: Mapping[str, Any] | None = None,
) -> None:
    """Attach to each alert its evidence rows (and, for an output alert, its chart)."""
    segs = {segment_key(s): s for s in data["segments"]}
    base = {segment_key(s): s for s in data["baseline"]["segments"]}
    h = as_float(data["false_alarm"]["charts"]["cusum"]["h"])
    outputs = outputs_of(data)
    named = {"measure": measure_context(outputs), "finding": finding_context(outputs)}
    for a in alerts:
        key = (a["site"], a["vendor"])
        name = a["signal"]["id"]
        label = segment_label(*key)
        a["figure"] = None
        a.update({kind: [] for kind in EVIDENCE})
        if name in (MEAN, RATE) and key in segs:
            fig = alert_chart_figure(
                segs[key],
                months,
                signal=name,
                baseline=base.get(key),
                onset=a["onset"],
                h=h,
                **named,
            )
            a["figure"] = alert_chart(
                fig,
                segment=segs[key],
                signal=name,
                onset=a["onset"],
                fig_id=a["anchor"],
                **named,
            )
        elif name in ("population", "input"):
            a["drift"] = [
                r for r in drift["rows"] if (r["site"], r["vendor"]) == key and r["alarm"]
            ]
        elif name == "performance":
            a.update(_performance_evidence(a, key, performance, bias_change))
        elif name == "integrity":
            a["integrity"] = [
                r for r in integrity_rows if r["segment"] == label and _in_alert(r, a)
            ]
        elif name == "header":
            a["header"] = [r for r in header if r["segment"] == label]
