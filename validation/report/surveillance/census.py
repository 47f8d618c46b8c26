"""The deployment census (studies per segment and month, software versions, model versions) and
the input-integrity section of the surveillance report."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from validation.numbers import as_float
from validation.report.labels import humanize
from validation.report.segments import Key, is_pooled, segment_key, segment_label, segment_order
from validation.report.text import load_text

#: The processing counts of the census, in the order of its totals table.
COUNTS = ("received", "included", "excluded", "quality_rejected", "predicted")


def _by_segment(rows: Sequence[Mapping[str, Any]]) -> dict[Key, list[Mapping[str, Any]]]:
    grouped: dict[Key, list[Mapping[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(segment_key(r), []).append(r)
    return grouped


def _version_rows(
    key: Key,
    cell: Mapping[tuple[Key, str], Mapping[str, Any]],
    months: Sequence[str],
    known: set[str],
) -> list[dict[str, Any]]:
    """One row per scanner software version a segment sent: studies per month (None where it
    sent none), and whether the validation baseline had seen it."""
    seen: dict[str, list[int | None]] = {}
    for j, m in enumerate(months):
        r = cell.get((key, m))
        for version, n in ((r or {}).get("software_versions") or {}).items():
            seen.setdefault(str(version), [None] * len(months))[j] = int(n)
    return [
        {
            "segment": segment_label(*key),
            "version": version,
            "new": version not in known,
            "cells": seen[version],
            "total": sum(c for c in seen[version] if c is not None),
        }
        for version in sorted(seen)
    ]


def census(data: Mapping[str, Any], months: Sequence[str]) -> dict[str, Any]:
    """Studies received per segment and month, the software versions in use and the
    processing totals by month (pooled rows left out: they repeat the others)."""
    rows = [r for r in data["census"] if not is_pooled(segment_key(r))]
    keys = segment_order(
        [segment_key(r) for r in rows]
        + [segment_key(s) for s in data["baseline"]["segments"] if not is_pooled(segment_key(s))]
    )
    cell = {(segment_key(r), str(r["month"])): r for r in rows}
    baseline_versions = {
        segment_key(s): {str(v) for v in s["software_versions"] or []}
        for s in data["baseline"]["segments"]
    }
    segments = []
    versions = []
    for key in keys:
        cells = []
        for m in months:
            r = cell.get((key, m))
            received = int(r["received"]) if r is not None and r["received"] is not None else 0
            cells.append({"n": received, "missing": received == 0})
        segments.append(
            {"segment": segment_label(*key), "cells": cells, "total": sum(c["n"] for c in cells)}
        )
        versions += _version_rows(key, cell, months, baseline_versions.get(key, set()))
    totals = []
    for m in months:
        month_rows = [r for r in rows if str(r["month"]) == m]
        totals.append({"month": m, **{f: sum(int(r[f] or 0) for r in month_rows) for f in COUNTS}})
    return {
        "segments": segments,
        "versions": versions,
        "totals": totals,
        "grand": {f: sum(t[f] for t in totals) for f in COUNTS},
        "n_segments": len(keys),
        "n_sites": len({k[0] for k in keys}),
        "n_vendors": len({k[1] for k in keys}),
        "any_new_version": any(v["new"] for v in versions),
    }


def header_changes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The DICOM header values never seen in the baseline, by first month then segment."""
    fields = load_text("surveillance")["header_fields"]
    rows = sorted(data["header_changes"], key=lambda r: (str(r["first_month"]), segment_key(r)))
    return [
        {
            "segment": segment_label(*segment_key(r)),
            "field": fields.get(str(r["field"])) or humanize(r["field"]),
            "value": str(r["value"]),
            "first_month": str(r["first_month"]),
            "n": r["n"],
        }
        for r in rows
    ]


def _integrity_summary(key: Key, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: str(r["month"]))
    rates = [
        (r, as_float(r["exclusion_rate"]))
        for r in rows
        if math.isfinite(as_float(r["exclusion_rate"]))
    ]
    worst = max(rates, key=lambda t: t[1]) if rates else None
    return {
        "segment": segment_label(*key),
        "pooled": is_pooled(key),
        "received": sum(int(r["received"] or 0) for r in rows),
        "excluded": sum(int(r["excluded"] or 0) for r in rows),
        "worst_rate": worst[1] if worst else None,
        "worst_month": str(worst[0]["month"]) if worst else None,
        "duplicates": sum(int(r["duplicates"] or 0) for r in rows),
        "missing_months": [str(r["month"]) for r in rows if r["missing_batch"]],
        "alarm_months": [str(r["month"]) for r in rows if r["alarm"]],
    }


def integrity(data: Mapping[str, Any]) -> dict[str, Any]:
    """Input integrity: a summary per segment, and the segment-months with a finding (an alarm,
    a duplicate file or a missing batch)."""
    by = _by_segment(data["integrity"])
    flagged = [
        {
            "month": str(r["month"]),
            "segment": segment_label(*segment_key(r)),
            "received": r["received"],
            "excluded": r["excluded"],
            "exclusion_rate": r["exclusion_rate"],
            "duplicates": r["duplicates"],
            "missing_batch": bool(r["missing_batch"]),
            "alarm": bool(r["alarm"]),
            "detail": str(r["detail"] or ""),
        }
        for r in sorted(data["integrity"], key=lambda r: (str(r["month"]), segment_key(r)))
        if r["alarm"] or r["missing_batch"] or int(r["duplicates"] or 0) > 0
    ]
    return {
        "summary": [_integrity_summary(key, by[key]) for key in segment_order(by)],
        "flagged": flagged,
    }


def deployments(data: Mapping[str, Any]) -> dict[str, Any]:
    """Model versions per site and the version changes (events, never alerts)."""
    record = data["deployments"]
    released = record["released_version"]
    sites: dict[str, list[dict[str, Any]]] = {}
    for epoch in record["epochs"]:
        sites.setdefault(str(epoch["site"]), []).append(
            {"version": epoch["model_version"], "start": epoch["start"], "end": epoch["end"]}
        )
    return {
        "released_version": released or data["model"]["version"],
        "events": [dict(e) for e in record["events"]],
        "sites": [{"site": site, "epochs": sites[site]} for site in sorted(sites)],
        "several": any(len(v) > 1 for v in sites.values())
        or any(e["version"] != released for v in sites.values() for e in v),
        "extra_streams": int(record["extra_streams"]),
        "extra_bias_streams": int(record["extra_bias_streams"]),
    }
