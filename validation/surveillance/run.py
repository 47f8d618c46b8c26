"""The surveillance run: every month's signals against the frozen baseline, alerts, outputs.

:func:`evaluate` is the engine, a pure function of the baseline record, the batch rows, the
label rows, the ``as_of`` month and the settings; it reads and writes nothing, so it can be
tested and benchmarked without DICOM. :func:`run_surveillance` is the file layer behind
``mval monitor run``: it freezes or verifies the baseline, reads every processed month and every
label file, checks every prediction was made by the locked model version deployed at its site
that month (the site files' ``deployments``; :mod:`validation.surveillance.epochs` for what a
version change does to the monitoring), calls the engine and
writes ``signals.csv``, ``alerts.json`` and ``surveillance.json``. It renders nothing: the
report is :func:`validation.report.surveillance.render_surveillance_report`, which
``mval monitor run`` calls after the run.

Everything is recomputed from the inputs on every run: re-running gives the same outputs, a
re-processed month replaces its old rows, and a label that arrives late updates the performance
of the month the study was acquired in.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from validation.exceptions import AnalysisError, IntegrityError
from validation.hashing import sha256_json
from validation.numbers import json_ready
from validation.protocol import load_protocol
from validation.schemas import validate_document
from validation.sites import check_deployments, load_sites, site_files, version_at
from validation.surveillance.alerts import SIGNAL_ORDER, alert_episodes
from validation.surveillance.baseline import POOLED, freeze_or_load, released_version
from validation.surveillance.batch import BATCH_COLUMNS, check_month, verify_batch
from validation.surveillance.bias_change import bias_change_signals
from validation.surveillance.charts import (
    ChartLimits,
    baseline_error,
    chart_limits,
    monthly_counts,
    output_signals,
)
from validation.surveillance.epochs import SEP, EpochPlan, build_epochs, filter_rows
from validation.surveillance.performance import (
    LABEL_COLUMNS,
    label_summary,
    label_table,
    performance_signals,
)
from validation.surveillance.signals import (
    SIGNAL_COLUMNS,
    FalseAlarmPlan,
    Settings,
    census,
    count_streams,
    drift_signals,
    header_signals,
    integrity_signals,
    iter_segments,
    month_range,
    plan_false_alarms,
    prepare,
)
from validation.workflow import Layout

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_BASELINE_SUMMARY = (
    "site",
    "vendor",
    "n",
    "mean_measurement",
    "sd_measurement",
    "positive_rate",
    "exclusion_rate",
    "software_versions",
    "scanner_models",
    "agreement",
)


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns: the tidy signals, the alerts and ``surveillance.json``."""

    signals: pd.DataFrame
    alerts: list[dict[str, Any]]
    surveillance: dict[str, Any]

    @property
    def alarm(self) -> bool:
        return bool(self.alerts)


def evaluate(
    baseline: dict[str, Any],
    batch: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    as_of: str | None = None,
    settings: Settings | None = None,
    first_month: str | None = None,
    deployments: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> Evaluation:
    """Compute every signal, the alerts and the ``surveillance.json`` content.

    Parameters
    ----------
    baseline : dict
        The frozen baseline (:func:`validation.surveillance.baseline.build_baseline`).
    batch : DataFrame
        ``batch.csv`` rows of every processed month (:data:`BATCH_COLUMNS`); rows after
        ``as_of`` are ignored.
    labels : DataFrame
        Late labels (:data:`LABEL_COLUMNS`) of every arrival month; those that arrived after
        ``as_of`` are ignored.
    as_of : str, optional
        ``YYYY-MM``: evaluate as of the end of this month (default: the last batch month).
    settings : Settings, optional
        Alpha, ARL, horizon and effect-size minimums (default :class:`Settings`).
    first_month : str, optional
        First monitored month (default: the first batch month). Months from it to ``as_of``
        without any batch count as missing.
    deployments : mapping, optional
        Site -> ``(from month, model version)`` entries in month order (the site files'
        ``deployments``); a site not named runs the baseline's released version. From a
        switch on, the site's segments are a new epoch (:mod:`validation.surveillance.epochs`):
        output charts, audited performance and bias change against the switched-to version's
        baseline, restarted; the switch is reported in ``deployments.events``, never alarmed.

    Returns
    -------
    Evaluation
    """
    settings = settings or Settings()
    months_seen = sorted(set(batch["month"].astype(str)))
    if as_of is None:
        if not months_seen:
            raise AnalysisError("no production batch to evaluate and no --as-of month given")
        as_of = months_seen[-1]
    check_month(as_of, "as_of")
    start = first_month or next((m for m in months_seen if m <= as_of), as_of)
    check_month(start, "first_month")
    if start > as_of:
        raise AnalysisError(f"first month {start} is after the as-of month {as_of}")
    months = month_range(start, as_of)
    batch = batch[(batch["month"].astype(str) >= start) & (batch["month"].astype(str) <= as_of)]

    segments = dict(iter_segments(baseline))
    sites_vendors = [key for key in segments if key[0] != POOLED]
    goal_list = baseline["protocol"]["goals"]
    # without a finding no study is called positive (NaN compares False)
    threshold = float(baseline["protocol"]["threshold"] or "nan")
    epochs = build_epochs(baseline, segments, months, deployments)
    model_segments = epochs.segments
    # each post-switch epoch's model streams (two charts, one test per goal, the audited bias)
    # are streams of their own in the weighted Bonferroni split
    plan = plan_false_alarms(
        count_streams(len(segments), len(goal_list)) + epochs.extra * (2 + len(goal_list)),
        settings,
        bias_streams=len(segments) + epochs.extra,
    )
    if len(months) > settings.horizon_months:
        log.warning(
            "%d months monitored: the false-alarm statement covers %d months",
            len(months),
            settings.horizon_months,
        )

    rows = prepare(batch, threshold)
    census_rows = census(rows, months, sites_vendors)
    integrity, integrity_rows = integrity_signals(census_rows, segments, plan)
    header_changes, header_rows = header_signals(
        rows, months, {k: v for k, v in segments.items() if k[0] != POOLED}
    )
    drift_records, drift_rows = drift_signals(rows, months, segments, plan)
    # the model's outputs and agreement: per model-version epoch (one per segment without a
    # version change), each against its own version's validation baseline
    model_rows = epochs.label_rows(rows)
    limits = chart_limits(
        model_segments, monthly_counts(model_rows, months, model_segments), months, plan
    )
    series, output_rows = output_signals(model_rows, months, model_segments, plan, limits)
    labelled = label_table(labels, model_rows, as_of)
    labelled["pooled_offset"] = epochs.pooled_offsets(labelled["site"], labelled["vendor"])
    performance, performance_rows = performance_signals(
        labelled,
        months,
        model_segments,
        goal_list,
        plan,
        loa_multiplier=float(baseline["protocol"].get("loa_multiplier", 1.96)),
    )
    bias_records, bias_rows, bias_summary = bias_change_signals(
        labelled, months, model_segments, plan, as_of=as_of
    )
    model_signal_rows = filter_rows(epochs, output_rows + performance_rows + bias_rows)
    labelled_rows = integrity_rows + header_rows + drift_rows + model_signal_rows
    # alarm episodes of the epochs' own segments: none spans a version change
    alarmed = [row for row in labelled_rows if row["alarm"]]
    alerts = [
        epochs.relabel(alert, alert["onset"])
        for alert in alert_episodes(_signal_table(alarmed), months)
    ]
    alerts.sort(key=lambda a: (a["onset"], a["site"] == POOLED, a["site"], a["vendor"]))
    signals = _signal_table([epochs.relabel(row) for row in labelled_rows])
    performance = [epochs.relabel(r) for r in filter_rows(epochs, performance)]
    bias_records = [epochs.relabel(r) for r in filter_rows(epochs, bias_records)]
    bias_summary["segments"] = [epochs.relabel(r) for r in bias_summary["segments"]]
    series = _merge_series(series, epochs)
    if epochs.extra:
        labelled = labelled.assign(site=labelled["site"].astype(str).str.split(SEP).str[0])
    events = epochs.events(_version_hashes(baseline))
    surveillance = {
        "schema_version": SCHEMA_VERSION,
        "created_utc": "",
        "as_of": as_of,
        "months": months,
        "protocol": {
            k: baseline["protocol"][k]
            for k in ("id", "version", "sha256", "threshold", "outputs", "goals")
        },
        "model": _model(batch, baseline),
        "deployments": {
            "released_version": epochs.released,
            "epochs": epochs.record(),
            "events": events,
            "extra_streams": epochs.extra * (2 + len(goal_list)),
            "extra_bias_streams": epochs.extra,
        },
        "baseline": {
            "path": "baseline.json",
            "sha256": baseline["sha256"],
            "created_utc": baseline.get("created_utc", ""),
            "sources": baseline["sources"],
            "premarket": baseline.get("premarket", []),
            "segments": [{k: seg.get(k) for k in _BASELINE_SUMMARY} for seg in segments.values()],
            "released_version": epochs.released,
            "versions": [
                {
                    "version": entry["version"],
                    "sha256": entry.get("sha256"),
                    "segments": [
                        {k: seg.get(k) for k in _BASELINE_SUMMARY} for seg in entry["segments"]
                    ],
                }
                for entry in baseline.get("versions", [])
            ],
        },
        "false_alarm": _false_alarm(plan, segments, census_rows, limits, epochs),
        "census": census_rows,
        "segments": series,
        "integrity": integrity,
        "header_changes": header_changes,
        "drift": drift_records,
        "performance": performance,
        "bias_change": {**bias_summary, "months": bias_records},
        "labels": label_summary(labelled, months, as_of),
        "alerts": alerts,
        "status": "ALARM" if alerts else "NO ALARM",
    }
    return Evaluation(signals=signals, alerts=alerts, surveillance=json_ready(surveillance))


def _false_alarm(
    plan: FalseAlarmPlan,
    segments: dict,
    census_rows: list[dict],
    limits: ChartLimits,
    epochs: EpochPlan,
) -> dict[str, Any]:
    """The plan, the per-segment chart limits, and the Monte Carlo check of the rate with the
    baseline's own sampling error counted."""
    record = plan.record()
    record["limits"] = plan.settings.limits
    record["calibration"] = limits.record()
    record["calibration"]["segments"] = [
        epochs.relabel(r) for r in record["calibration"]["segments"]
    ]
    if epochs.extra:
        switched = sorted({e.site for es in epochs.epochs.values() for e in es if e.index})
        record["statement"] += (
            f" A model version change (at {', '.join(switched)}) starts a new epoch of that "
            f"site's segments, compared with the new version's validation baseline: its "
            f"{epochs.extra} post-switch segment epochs add "
            "streams of their own (two output charts, one test per goal and the audited "
            "bias each), all counted in the split above."
        )
    estimate = baseline_error(segments, census_rows, plan, limits=limits)
    record["baseline_error"] = estimate
    calibrated = plan.settings.limits == "calibrated"
    if calibrated:
        hs, ls = limits.h, limits.L
        record["statement"] += (
            f" The output charts' limits account for the baseline's own sampling error: per "
            f"segment, h (CUSUM) and L (EWMA) are the 1 - {plan.per_stream_alpha:.3g} quantiles "
            f"of the maximum chart statistic over {limits.counts.shape[1]} months in "
            f"{limits.draws:,} simulated in-control histories that redraw the baseline at its "
            f"own size with that segment's monthly counts (seed {limits.seed}), never below the "
            f"known-parameter limits for ARL0 >= {plan.arl0_min:g} (h {limits.floor_h:.3f}, L "
            f"{limits.floor_L:.3f}); h ranges {hs.min():.3f} to {hs.max():.3f} and L "
            f"{ls.min():.3f} to {ls.max():.3f} over the segments (per-segment values in "
            "false_alarm.calibration)."
        )
    if estimate is not None:
        record["statement"] += (
            f" Verification by an independent simulation (median "
            f"{estimate['baseline_n_median']:.0f} baseline studies per segment, "
            f"{estimate['monthly_n_median']:.0f} a month; {estimate['histories']:,} histories): "
            f"an in-control history raises a false alarm within {plan.horizon_months} months on "
            f"the CUSUMs of the mean in an estimated {estimate['p_output_mean']:.2%} of cases "
            f"and on the EWMAs of the positive rate in "
            f"{estimate['p_output_positive_rate']:.2%}; the stated bound for each of these "
            f"chart families is {estimate['stated_bound_per_chart']:.2%}"
            + (
                "."
                if calibrated
                else " (the known-parameter limits ignore the baseline's sampling error; a "
                "larger baseline per segment brings the rates toward the stated bound)."
            )
        )
    return record


def _merge_series(series: list[dict], epochs: EpochPlan) -> list[dict]:
    """One chart series per segment: each month's point from the epoch running then (with
    its ``model_version``; ``epoch_start`` marks a switch month, where the chart restarts)."""
    by_key: dict[tuple[str, str], dict] = {}
    for entry in series:
        label = str(entry["site"])
        site = label.split(SEP, 1)[0]
        merged = by_key.setdefault(
            (site, entry["vendor"]),
            {
                "site": site,
                "vendor": entry["vendor"],
                "series": {name: [] for name in entry["series"]},
                "model_versions": [],
            },
        )
        epoch = epochs.epoch_of(label) if label != POOLED else None
        for name, points in entry["series"].items():
            for point in points:
                if epochs.active(label, point["month"]):
                    merged["series"][name].append(
                        {
                            **point,
                            "model_version": epoch.version if epoch else "",
                            "epoch_start": bool(
                                epoch and epoch.index and point["month"] == epoch.start
                            ),
                        }
                    )
        if epoch is not None and epoch.version not in merged["model_versions"]:
            merged["model_versions"].append(epoch.version)
    for merged in by_key.values():
        for points in merged["series"].values():
            points.sort(key=lambda p: p["month"])
    return list(by_key.values())


def _version_hashes(baseline: dict[str, Any]) -> dict[str, str]:
    hashes = {v["version"]: v.get("sha256", "") for v in baseline.get("versions", [])}
    released = (baseline.get("model") or {}).get("sha256") or ""
    return {released_version(baseline): released, **hashes}


def _signal_table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=[*SIGNAL_COLUMNS, "model_version"])
    table["model_version"] = (
        table["model_version"].astype(object).where(table["model_version"].notna(), "")
    )
    rank = {name: i for i, name in enumerate(SIGNAL_ORDER)}
    order = pd.DataFrame(
        {
            "month": table["month"],
            "pooled": table["site"] == POOLED,
            "site": table["site"],
            "vendor": table["vendor"],
            "signal": table["signal"].map(rank),
        }
    )
    index = order.sort_values(["month", "pooled", "site", "vendor", "signal"], kind="stable").index
    return table.loc[index].reset_index(drop=True)


def _model(batch: pd.DataFrame, baseline: dict) -> dict[str, Any]:
    """The models that read the batches (``run_surveillance`` checked each prediction came
    from the version deployed at its site that month): the released one's name, version and
    sha256, and the predictions each locked version made (``versions``)."""
    predicted = batch.loc[batch["status"] == "predicted", "model_sha256"].astype(str)
    counts = predicted.value_counts()
    known = baseline.get("model", {})
    by_hash = {sha: version for version, sha in _version_hashes(baseline).items() if sha}
    hashes = sorted(counts.index)
    return {
        "name": known.get("name"),
        "version": known.get("version"),
        "sha256": known.get("sha256"),
        "matches_baseline": all(sha in by_hash for sha in hashes),
        "versions": [
            {"version": by_hash.get(sha), "sha256": sha, "predictions": int(counts[sha])}
            for sha in hashes
        ],
    }


# --------------------------------------------------------------------------- files


def read_batches(batches_dir: str | Path, as_of: str | None = None) -> pd.DataFrame:
    """Every processed month's ``batch.csv`` (months up to ``as_of``), in month order."""
    batches_dir = Path(batches_dir)
    if not batches_dir.is_dir():
        raise AnalysisError(
            f"batches folder {batches_dir} not found: run `mval monitor batch` for each month"
        )
    tables = []
    for folder in sorted(p for p in batches_dir.iterdir() if p.is_dir()):
        try:
            month = check_month(folder.name)
        except Exception:
            continue  # not a month folder (e.g. a scratch folder of an interrupted run)
        if as_of is not None and month > as_of:
            continue
        path = folder / "batch.csv"
        if not path.is_file():
            log.warning("%s has no batch.csv (month not processed): counted as missing", folder)
            continue
        verify_batch(path)  # as `mval monitor batch` wrote it (sha256, rows)
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "model_version" not in table.columns:  # processed before versions were recorded
            table["model_version"] = ""
        missing = [c for c in BATCH_COLUMNS if c not in table.columns]
        if missing:
            raise AnalysisError(f"{path} lacks column(s) {missing}: re-run `mval monitor batch`")
        if not table.empty and set(table["month"]) != {month}:
            raise AnalysisError(f"{path} holds rows of other months than {month}")
        table.attrs["path"] = str(path)
        tables.append(table)
    if not tables:
        raise AnalysisError(f"no processed month (batch.csv) under {batches_dir}")
    return pd.concat(tables, ignore_index=True)


def read_labels(labels_dir: str | Path | None) -> pd.DataFrame:
    """Every ``<YYYY-MM>.csv`` label file (each: the labels that arrived that month)."""
    empty = pd.DataFrame(columns=list(LABEL_COLUMNS))
    if labels_dir is None or not Path(labels_dir).is_dir():
        log.warning("no labels folder %s: performance is not assessed", labels_dir)
        return empty
    tables = []
    for path in sorted(Path(labels_dir).glob("*.csv")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [c for c in LABEL_COLUMNS if c not in table.columns]
        if missing:
            raise AnalysisError(f"label file {path} lacks column(s) {missing}")
        # a label without its arrival month arrived in the month its file is named after
        table["arrived"] = table["arrived"].where(table["arrived"] != "", path.stem)
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else empty


def check_model(
    batch: pd.DataFrame,
    expected: str | Mapping[str, str],
    batches_dir: str | Path,
    *,
    deployments: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    released: str | None = None,
) -> None:
    """Every prediction must come from the locked version deployed at its site that month.

    Parameters
    ----------
    batch : DataFrame
        The batch rows (``month``, ``site``, ``status``, ``model_sha256``, and
        ``model_version`` when recorded).
    expected : str or mapping of str to str
        The released model's sha256, or every locked version's sha256 by version.
    deployments : mapping, optional
        Site -> ``(from month, version)`` entries (default: every site runs ``released``).
    released : str, optional
        The released version (needed with a mapping of several versions).

    Raises
    ------
    IntegrityError
        Naming the first offending batch file, the sha256 of the version deployed at that
        site and month, and the sha256 found (with both versions in the message).
    """
    hashes = {released or "": expected} if isinstance(expected, str) else dict(expected)
    released = released if released is not None else next(iter(hashes))
    columns = ["month", "site", "model_sha256"]
    columns += ["model_version"] if "model_version" in batch.columns else []
    predicted = batch.loc[batch["status"] == "predicted", columns]
    if predicted.empty:
        return
    deployments = deployments or {}
    if not deployments:  # every site runs the released version: one comparison
        wrong_rows = predicted["model_sha256"] != hashes.get(released, "")
        if "model_version" in predicted.columns:
            version = predicted["model_version"].fillna("").astype(str)
            wrong_rows |= (version != "") & (version != released)
        if not wrong_rows.any():
            return
        predicted = predicted[wrong_rows]
    # one check per distinct (month, site, hash, version) combination
    predicted = predicted.drop_duplicates()
    wanted = {
        (site, month): version_at(deployments.get(site, ()), month, released)
        for site, month in predicted[["site", "month"]].drop_duplicates().itertuples(index=False)
    }
    versions = pd.Series(
        [wanted[k] for k in zip(predicted["site"], predicted["month"], strict=True)],
        index=predicted.index,
        dtype=object,
    )
    sha = versions.map(hashes).fillna("")
    recorded = (
        predicted["model_version"].fillna("").astype(str)
        if "model_version" in predicted.columns
        else pd.Series("", index=predicted.index)
    )
    wrong = (predicted["model_sha256"] != sha) | ((recorded != "") & (recorded != versions))
    if wrong.any():
        first = predicted[wrong].sort_values(["month", "site"], kind="stable").index[0]
        row = predicted.loc[first]
        found = str(row["model_sha256"])
        by_hash = {h: v for v, h in hashes.items()}
        found_version = by_hash.get(found) or recorded.loc[first] or "no locked version"
        raise IntegrityError(
            str(Path(batches_dir) / str(row["month"]) / "batch.csv"),
            str(sha.loc[first]),
            found,
            what=(
                f"predictions of the production batch (model sha256; site {row['site']} runs "
                f"model {versions.loc[first]} in {row['month']} by its deployments, the "
                f"predictions come from {found_version})"
            ),
        )


def site_deployments(
    sites_dir: str | Path | None, versions: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """Site -> ``(from month, version)`` from the site files' ``deployments`` (checked against
    the protocol's locked ``versions``); empty without a sites folder."""
    if sites_dir is None:
        return {}
    sites = load_sites(site_files(sites_dir))
    check_deployments(sites, versions)
    return {
        site.id: [(d.start, d.version) for d in site.deployments]
        for site in sites
        if site.deployments
    }


def run_surveillance(
    protocol_path: str | Path,
    *,
    baseline_dir: str | Path,
    batches_dir: str | Path,
    labels_dir: str | Path | None,
    out: str | Path,
    accounting_csv: str | Path | None = None,
    as_of: str | None = None,
    first_month: str | None = None,
    settings: Settings | None = None,
    sites_dir: str | Path | None = None,
) -> dict[str, Any]:
    """``mval monitor run``: evaluate and write the outputs; return ``surveillance.json``.

    Parameters
    ----------
    protocol_path : path
        The validation protocol (its locked model, goals, threshold and confidence).
    baseline_dir : path
        The validation analysis folder (``analysed.csv``, ``results.json``): the baseline's
        source on the first run.
    batches_dir : path
        Output of ``mval monitor batch``: one ``<YYYY-MM>/batch.csv`` per processed month.
    labels_dir : path or None
        Late labels, one ``<YYYY-MM>.csv`` per arrival month.
    out : path
        Folder for ``baseline.json`` (frozen on the first run), ``signals.csv``,
        ``alerts.json`` and ``surveillance.json``.
    accounting_csv : path, optional
        The validation's merged ingest accounting (default:
        ``<baseline_dir>/../ingest/accounting.csv``).
    as_of, first_month : str, optional
        See :func:`evaluate`.
    settings : Settings, optional
        Default :class:`Settings` with the protocol's confidence level.
    sites_dir : path, optional
        The site files: their ``deployments`` say which locked version each site ran in each
        month (default: none, every site runs the protocol's released version).
    """
    protocol = load_protocol(protocol_path)
    unit = "" if protocol.measurement is None else protocol.measurement.unit
    settings = replace(settings or Settings(), confidence=protocol.confidence, unit=unit)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if accounting_csv is None:
        # the layout of results/<protocol>/: analysis/ beside ingest/accounting.csv
        accounting_csv = Path(Layout(str(Path(baseline_dir).parent)).merged_accounting())
    baseline, created = freeze_or_load(
        out / "baseline.json",
        protocol=protocol,
        analysis_dir=baseline_dir,
        accounting_csv=accounting_csv,
    )
    deployments = site_deployments(sites_dir, [m.version for m in protocol.models])
    batch = read_batches(batches_dir, as_of)
    check_model(
        batch,
        {m.version: m.sha256 for m in protocol.models},
        batches_dir,
        deployments=deployments,
        released=protocol.released.version,
    )
    labels = read_labels(labels_dir)
    result = evaluate(
        baseline,
        batch,
        labels,
        as_of=as_of,
        settings=settings,
        first_month=first_month,
        deployments=deployments,
    )
    surveillance = result.surveillance
    surveillance["created_utc"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if created:
        log.info("baseline frozen on this run: %s", out / "baseline.json")
    content = {k: v for k, v in surveillance.items() if k != "created_utc"}
    surveillance["run_id"] = f"MVAL-SURV-{protocol.stem}-{sha256_json(content)[:8]}"
    # alerts.json is surveillance.json's alerts (both cleaned of NaN the same way)
    validate_document(surveillance["alerts"], "alerts", source=out / "alerts.json")
    validate_document(surveillance, "surveillance", source=out / "surveillance.json")
    _write_csv(result.signals, out / "signals.csv")
    _write_json(result.alerts, out / "alerts.json")
    _write_json(surveillance, out / "surveillance.json")
    for alert in result.alerts:
        log.warning(
            "ALARM %s/%s %s since %s: %s",
            alert["site"],
            alert["vendor"],
            alert["signal"],
            alert["onset"],
            alert["evidence"],
        )
    log.info(
        "%s as of %s: %d alert(s); %s",
        surveillance["status"],
        result.surveillance["as_of"],
        len(result.alerts),
        out / "surveillance.json",
    )
    return surveillance


def _write_json(record: Any, path: Path) -> None:
    scratch = path.with_name(f".{path.name}.partial")
    scratch.write_text(
        json.dumps(json_ready(record), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )
    os.replace(scratch, path)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    scratch = path.with_name(f".{path.name}.partial")
    table.to_csv(scratch, index=False)
    os.replace(scratch, path)
