"""The surveillance report's context from a checked ``surveillance.json``, and the report.

``surveillance.json`` is read through its written contract
(``validation/schemas/surveillance.schema.json``, :func:`check_surveillance`); the section
modules reshape it for the templates (census pivoted to segment x month, drift rows matched
with their effect-size thresholds, alerts with their evidence rows and figures) and draw the
figures. Numbers stay raw here; the Jinja filters of :mod:`validation.report.filters` round
them. The fixed words (sections, signatories, signals) are in ``reports/text/surveillance.yaml``.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from validation import __version__
from validation.exceptions import ReportError
from validation.report.document import render_document, render_html
from validation.report.outputs import finding_context, measure_context, outputs_of, present
from validation.report.sections import sections_for
from validation.report.segments import segment_key, segment_label, segment_order
from validation.report.surveillance.alerts import (
    BIAS_CHANGE,
    alarmed_segments,
    alerts,
    attach_evidence,
    onsets,
    signals,
)
from validation.report.surveillance.baseline import baseline
from validation.report.surveillance.bias_change import bias_change
from validation.report.surveillance.census import census, deployments, header_changes, integrity
from validation.report.surveillance.drift import drift
from validation.report.surveillance.false_alarms import false_alarm
from validation.report.surveillance.output import output
from validation.report.surveillance.performance import performance
from validation.report.text import load_text
from validation.schemas import load_document, validate_document

#: The report's entry template, under the templates folder (``reports/``).
ENTRY_TEMPLATE = "surveillance/report.html"


def check_surveillance(data: Any, *, source: str | Path = "surveillance.json") -> None:
    """Raise :class:`ReportError` unless ``data`` follows the surveillance.json contract.

    The contract is ``validation/schemas/surveillance.schema.json`` (the message names each
    field that is missing or of the wrong type, with its JSON path); beyond it, the status must
    agree with the alerts (ALARM exactly when there is one).

    Parameters
    ----------
    data : object
        The parsed ``surveillance.json``.
    source : str or Path
        The file's name, for the message.

    Raises
    ------
    ReportError
        Naming the fields that break the contract, or a status that contradicts the alerts.
    """
    validate_document(data, "surveillance", source=source, error=ReportError)
    _check_status(data, source)


def _check_status(data: Mapping[str, Any], source: str | Path) -> None:
    """What the schema cannot say: the status is ALARM exactly when there is an alert."""
    if (data["status"] == "ALARM") != bool(data["alerts"]):
        raise ReportError(
            f"{source}: status {data['status']!r} contradicts its {len(data['alerts'])} alert(s)"
        )


def load_surveillance(path: str | Path) -> dict[str, Any]:
    """Read and check ``surveillance.json`` (see :func:`check_surveillance`).

    Raises
    ------
    ReportError
        If the file is missing, is not JSON or breaks the contract.
    """
    data: dict[str, Any] = load_document(path, "surveillance", error=ReportError)
    _check_status(data, path)
    return data


def surveillance_sections() -> list[dict[str, Any]]:
    """The report's sections in order (see :func:`validation.report.sections.sections_for`)."""
    return sections_for(load_text("surveillance")["sections"])


def _software() -> dict[str, Any]:
    """The software that renders the report (``surveillance.json`` records none)."""
    return {
        "mval": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "recorded": False,
    }


def _model(data: Mapping[str, Any]) -> dict[str, Any]:
    missing = load_text("surveillance")["missing"]
    model = data["model"]
    return {
        "name": model["name"] or missing["model_name"],
        "version": model["version"] or missing["model_version"],
        "sha256": model["sha256"],
        "matches_baseline": bool(model["matches_baseline"]),
        "versions": [dict(v) for v in model["versions"]],
    }


def build_surveillance_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """Build the plain template context from ``surveillance.json``.

    Parameters
    ----------
    data : mapping
        The parsed ``surveillance.json`` (checked here, see :func:`check_surveillance`).

    Returns
    -------
    dict
        Raw values (unrounded), reshaped for the templates, and the figures as SVG data URIs.

    Raises
    ------
    ReportError
        If ``data`` breaks the contract, or its performance rows mix confidence levels.
    """
    check_surveillance(data)
    months = [str(m) for m in data["months"]]
    raised = alerts(data)
    keys = segment_order(segment_key(s) for s in data["segments"])
    found = integrity(data)
    header = header_changes(data)
    drifted = drift(data, months, keys)
    # the bias panels mark the alarms on the premarket goals; the audited-bias change has its own
    audited = performance(data, months, keys, onsets(raised, "performance", exclude=[BIAS_CHANGE]))
    change = bias_change(data, months, keys, audited["labels"]["pending_months"])
    attach_evidence(
        data,
        raised,
        months,
        drift=drifted,
        performance=audited,
        integrity_rows=found["flagged"],
        header=header,
        bias_change=change,
    )
    alarm = data["status"] == "ALARM"
    text = load_text("surveillance")
    outputs = outputs_of(data)
    return {
        "report_id": str(data["run_id"]),
        "created_utc": data["created_utc"],
        "as_of": str(data["as_of"]),
        "months": months,
        "period": {
            "first": months[0] if months else None,
            "last": months[-1] if months else None,
            "count": len(months),
        },
        "status": {"text": data["status"], "alarm": alarm, "css": "alarm" if alarm else "no-alarm"},
        "protocol": {k: data["protocol"][k] for k in ("id", "version", "sha256", "threshold")},
        "outputs": present(outputs),
        "measure": measure_context(outputs),
        "finding": finding_context(outputs),
        "model": _model(data),
        "software": _software(),
        "deployments": deployments(data),
        "baseline": baseline(data),
        "false_alarm": false_alarm(data),
        "signals": signals(raised, outputs),
        "alerts": raised,
        "alarmed_segments": alarmed_segments(raised),
        "census": census(data, months),
        "header_changes": header,
        "integrity": found,
        "drift": drifted,
        "output": output(data, months, keys, raised),
        "performance": audited,
        "bias_change": change,
        "segments": [segment_label(*k) for k in keys],
        "signatories": [dict(s) for s in text["signatories"]],
        "sections": surveillance_sections(),
    }


def render_surveillance_html(
    context: Mapping[str, Any], *, folder: str | Path | None = None
) -> str:
    """Render the surveillance report's HTML (stylesheet embedded) from a context.

    Parameters
    ----------
    context : mapping
        :func:`build_surveillance_context`'s result.
    folder : str or Path, optional
        The templates folder (default ``reports/``, or ``MVAL_REPORTS_DIR``).

    Returns
    -------
    str
        The standalone HTML document.

    Raises
    ------
    ReportError
        If a template refers to a field the context lacks, or fails to render.
    """
    return render_html(ENTRY_TEMPLATE, context, folder=folder)


def render_surveillance_report(
    surveillance_json: str | Path, out_pdf: str | Path
) -> dict[str, Path]:
    """Render the post-market surveillance report from ``surveillance.json``.

    Parameters
    ----------
    surveillance_json : str or Path
        ``results/<protocol>/surveillance/surveillance.json``; ``alerts.json`` beside it, when
        present, is embedded in the PDF too.
    out_pdf : str or Path
        Where to write the PDF, e.g. ``results/<protocol>/surveillance/surveillance-report.pdf``.
        The HTML is written beside it with the suffix ``.html``.

    Returns
    -------
    dict
        The files written (:func:`~validation.report.document.render_document`): ``pdf`` and
        ``html``.

    Raises
    ------
    ReportError
        If the file is missing or breaks its contract, or rendering fails.
    """
    source = Path(surveillance_json)
    context = build_surveillance_context(load_surveillance(source))
    attachments = [(source, "Machine-readable surveillance results (surveillance.json)")]
    alerts_file = source.parent / "alerts.json"
    if alerts_file.is_file():
        attachments.append((alerts_file, "Alerts raised by the surveillance run (alerts.json)"))
    return render_document(
        ENTRY_TEMPLATE,
        context,
        out_pdf,
        attachments=attachments,
        identifier=f"{context['report_id']}/surveillance",
    )
