"""The evidence report (510(k) / De Novo): ``results.json`` and ``analysed.csv`` to the plain
context its templates render, and the report itself.

The report computes no statistics: every estimate and interval comes from the analysis stage.
``results.json`` is read through its written contract (``validation/schemas/results.schema.json``)
and the study table through its column list; this module reshapes the values (exclusion reasons
with their labels, model-card fields flattened) and draws the figures, and the section modules
(:mod:`~validation.report.evidence.study`, :mod:`~validation.report.evidence.performance`,
:mod:`~validation.report.evidence.regulatory`, :mod:`~validation.report.evidence.versions`) add
their parts. Numbers stay raw floats here; the Jinja filters in :mod:`validation.report.filters`
round them. The fixed words (report kinds, signatories, sections) are in
``reports/text/evidence.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from validation.exceptions import ReportError
from validation.report.badges import badge
from validation.report.document import render_document, render_html
from validation.report.evidence.kinds import check_kind, evidence_sections
from validation.report.evidence.performance import performance_context
from validation.report.evidence.regulatory import regulatory_context
from validation.report.evidence.study import study_context
from validation.report.evidence.versions import versions_context
from validation.report.figures.agreement import bland_altman
from validation.report.figures.flow import flow_diagram
from validation.report.filters import suffix
from validation.report.labels import dimension_title, humanize, plain, site_names, with_site_name
from validation.report.outputs import finding_context, measure_context, outputs_of, present
from validation.report.text import load_text
from validation.schemas import load_document, validate_document

#: The evidence report's entry template, under the templates folder (``reports/``).
ENTRY_TEMPLATE = "evidence.html"
#: Columns of analysed.csv the report reads (its figures' per-study points).
REQUIRED_COLUMNS: tuple[str, ...] = ("site", "vendor", "measurement", "reference", "difference")


def check_results(results: Any, *, source: str | Path = "results.json") -> None:
    """Raise :class:`ReportError` unless ``results`` follows the results.json contract.

    The contract is ``validation/schemas/results.schema.json``; the message names each field
    that is missing or of the wrong type, with its JSON path.
    """
    validate_document(results, "results", source=source, error=ReportError)


def load_results(results_path: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """Read and check ``results.json`` and the study table (``analysed.csv``) beside it."""
    path = Path(results_path)
    results = load_document(path, "results", error=ReportError)
    table_path = path.parent / str(results["study_table"])
    try:
        table = pd.read_csv(table_path)
    except FileNotFoundError as exc:
        raise ReportError(
            f"study table {table_path} (results.json: study_table) does not exist"
        ) from exc
    absent = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if absent:
        raise ReportError(f"study table {table_path} lacks column(s): {', '.join(absent)}")
    return results, table


def card_rows(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Flatten a free-form model card into rows: ``{"field", "text", "bullets", "pairs"}``.

    A scalar becomes ``text``; a list becomes ``bullets`` (a list); a mapping becomes
    ``pairs`` of ``{"key", "value", "mono"}`` (sha256 values flagged ``mono``).
    """
    rows: list[dict[str, Any]] = []
    for key, val in card.items():
        row: dict[str, Any] = {
            "field": humanize(key),
            "text": None,
            "bullets": None,
            "pairs": None,
        }
        if isinstance(val, Mapping):
            row["pairs"] = [
                {"key": humanize(k), "value": plain(v), "mono": "sha256" in str(k).lower()}
                for k, v in val.items()
            ]
        elif isinstance(val, list):
            row["bullets"] = [plain(v) for v in val]
        else:
            row["text"] = plain(val)
        rows.append(row)
    return rows


def _unit_label(unit: str) -> str:
    """The unit an endpoint's table shows: % for a proportion, none for an index, the symbol of
    a difference of the measurement otherwise (its metrics are of device-minus-reference)."""
    if unit in ("", "proportion"):
        return "%"
    return suffix(unit).strip()


def _endpoints(endpoints: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for ep in endpoints:
        row = dict(ep)
        row["verdict"] = badge(ep["verdict"])
        row["unit_label"] = _unit_label(str(ep["unit"]))
        row["rationale"] = ep.get("rationale")
        rows.append(row)
    return rows


#: The flow counts the report shows, in order.
FLOW_COUNTS = (
    "received",
    "excluded_at_ingest",
    "included",
    "quality_rejected",
    "no_reference",
    "analysed",
)


def _flow(results: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    flow = results["flow"]
    labels = flow["reason_labels"] or {}
    reasons = sorted(flow["excluded_by_reason"].items(), key=lambda kv: (-int(kv[1]), kv[0]))
    return {
        **{k: flow[k] for k in FLOW_COUNTS},
        "exclusions": [
            {"reason": r, "label": labels.get(r, humanize(r)), "n": n} for r, n in reasons if n
        ],
        "by_site": [
            dict(row, name=names.get(str(row["site"]), str(row["site"])))
            for row in results["flow_by_site"]
        ],
    }


def _reason_text(by_reason: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    parts = [f"{labels.get(r, humanize(r))} ({n})" for r, n in by_reason.items() if n]
    return "; ".join(parts) if parts else "none"


def _sum(*counts: Any) -> int | None:
    return None if any(c is None for c in counts) else int(sum(counts))


def _not_estimable(block: Mapping[str, Any]) -> bool:
    """Whether a results block is the analysis's "not estimable" form: only its ``n``."""
    return set(block) == {"n"}


def _classification(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """The 2x2 table (None when the protocol has no finding: the results hold no block)."""
    cls = results.get("classification")
    if not isinstance(cls, Mapping):
        return None
    tp, fp, fn, tn = (cls.get(k) for k in ("tp", "fp", "fn", "tn"))
    return {
        "estimable": not _not_estimable(cls),
        "n": cls["n"],
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "pred_pos": _sum(tp, fp),
        "pred_neg": _sum(fn, tn),
        "ref_pos": _sum(tp, fn),
        "ref_neg": _sum(fp, tn),
    }


AGREEMENT_KEYS = (
    "bias",
    "sd",
    "loa_low",
    "loa_high",
    "bias_ci",
    "loa_low_ci",
    "loa_high_ci",
    "proportional_slope",
    "proportional_slope_ci",
    "proportional_p",
    "mae",
    "mae_ci",
    "method",
)


def _agreement(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """The agreement block; every key present (None where not estimable; ``mae_ci`` optional).
    None when the protocol has no measurement (the results hold no block)."""
    agreement = results.get("agreement")
    if not isinstance(agreement, Mapping):
        return None
    return {
        **dict.fromkeys(AGREEMENT_KEYS),
        **agreement,
        "estimable": not _not_estimable(agreement),
    }


def _acceptance(results: Mapping[str, Any]) -> dict[str, Any]:
    """The optional acceptance block: its rule and the judged strata that failed."""
    acc = results.get("acceptance") or {}
    return {
        "rule": acc.get("rule"),
        "failing": [
            f"{dimension_title(f['dimension'])} {f['stratum']} ({f['metric']})"
            for f in acc.get("strata_failing") or []
        ],
    }


def _draft_reason(lock: Mapping[str, Any]) -> str:
    detail = str(lock["detail"]).strip()
    return (
        f"The analysis has no valid lock (status: {lock['status']}). {detail} Without a lock "
        "that precedes unblinding, it cannot be shown that the protocol and model were frozen "
        "before the reference standard was seen; this report is therefore a DRAFT and is not "
        "evidence for a submission."
    )


def build_context(
    results: Mapping[str, Any], table: pd.DataFrame, *, kind: str = "510k"
) -> dict[str, Any]:
    """Build the plain template context from checked results and the analysed study table.

    Parameters
    ----------
    results : mapping
        The parsed ``results.json`` (checked with :func:`check_results`).
    table : DataFrame
        ``analysed.csv``: one row per analysed study.
    kind : {"510k", "de-novo"}
        The submission the report supports.

    Returns
    -------
    dict
        Raw values (unrounded), reshaped for the templates, and the figures as SVG data URIs.
    """
    check_kind(kind)
    check_results(results)
    text = load_text("evidence")
    names = site_names(results)
    lock = results["lock"]
    draft = not bool(lock["valid"])
    flow = _flow(results, names)
    labels = results["flow"]["reason_labels"] or {}
    analysis = results["analysis"]
    agreement = _agreement(results)
    outputs = outputs_of(results)
    measure, finding = measure_context(outputs), finding_context(outputs)
    figs = {
        "flow": flow_diagram(flow),
        "bland-altman": (
            bland_altman(table, agreement, measure, confidence=analysis["confidence"])
            if agreement is not None and measure is not None
            else None
        ),
    }
    return {
        "kind": text["kinds"][kind],
        "report_id": results["report_id"],
        "created_utc": results["created_utc"],
        "draft": draft,
        "draft_reason": _draft_reason(lock) if draft else "",
        "protocol": results["protocol"],
        "outputs": present(outputs),
        "measure": measure,
        "finding": finding,
        "model": {k: results["model"][k] for k in ("name", "version", "path", "weights", "sha256")},
        "model_card": card_rows(results["model"]["card"] or {}),
        "lock": {
            "status": lock["status"],
            "valid": bool(lock["valid"]),
            "detail": lock["detail"],
            "locked_utc": lock.get("locked_utc"),
            "unblinded_utc": lock.get("unblinded_utc"),
            "file_sha256": lock.get("file_sha256"),
        },
        "software": {
            "mval": results["software"]["mval"],
            "python": results["software"]["python"],
            "platform": results["software"]["platform"],
            "packages": [
                {"name": k, "version": v}
                for k, v in sorted(
                    results["software"]["packages"].items(), key=lambda kv: kv[0].lower()
                )
            ],
        },
        "analysis": analysis,
        "confidence": analysis["confidence"],
        "signatories": [dict(s) for s in text["signatories"]],
        "sections": evidence_sections(kind, results),
        "endpoints": _endpoints(results["endpoints"]),
        "overall_verdict": badge(results["overall_verdict"]),
        "multiplicity_statement": results["multiplicity"]["statement"],
        "flow": flow,
        "agreement": agreement,
        "acceptance": _acceptance(results),
        "classification": _classification(results),
        "sites": [{"id": k, "name": v} for k, v in names.items()],
        "vendors": sorted(str(v) for v in table["vendor"].dropna().unique()),
        "partitions": [
            dict(
                with_site_name(p, names),
                reasons=_reason_text(p["excluded_by_reason"], labels),
            )
            for p in results["data"]["partitions"]
        ],
        "manifest": results["data"]["manifest"],
        "bundles": [with_site_name(b, names) for b in results["data"].get("bundles", [])],
        "reference_files": [with_site_name(r, names) for r in results["data"]["reference_files"]],
        "figures": figs,
        **study_context(results, table),
        **performance_context(results, table),
        **regulatory_context(results, table, kind=kind),
        **versions_context(results),
    }


def render_evidence_html(context: Mapping[str, Any]) -> str:
    """The evidence report's HTML (stylesheet embedded) from :func:`build_context`'s context."""
    return render_html(ENTRY_TEMPLATE, context)


def render_report(
    results_path: str | Path, out_pdf: str | Path, *, kind: str = "510k"
) -> dict[str, Path]:
    """Render the evidence report from an analysis's ``results.json``.

    Parameters
    ----------
    results_path : str or Path
        ``results/<protocol>/analysis/results.json``; the study table it names
        (``analysed.csv``) is read from the same folder.
    out_pdf : str or Path
        Where to write the PDF, e.g. ``results/<protocol>/report/510k.pdf``. The HTML is written
        beside it with the suffix ``.html``.
    kind : {"510k", "de-novo"}
        The submission the report supports (changes the title and introduction).

    Returns
    -------
    dict
        ``{"pdf": Path, "html": Path}``.

    Raises
    ------
    ReportError
        If the results are missing or break their contract, the kind is unknown, or rendering
        fails.
    """
    check_kind(kind)
    results, table = load_results(results_path)
    manifest = Path(results_path).parent / str(results["data"]["manifest"]["path"])
    if not manifest.is_file():
        raise ReportError(f"dataset manifest {manifest} not found (written by `mval analyze`)")
    return render_document(
        ENTRY_TEMPLATE,
        build_context(results, table, kind=kind),
        out_pdf,
        attachments=[
            (Path(results_path), "Machine-readable results of the analysis (results.json)"),
            (manifest, "Dataset manifest: every received file with its sha256"),
        ],
        identifier=f"{results['report_id']}/{kind}",
    )
