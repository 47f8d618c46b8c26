"""Render the evidence report: Jinja2 templates to HTML, and (in one place) WeasyPrint to PDF."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from validation.exceptions import ReportError
from validation.report.context import KINDS, build_context, load_results
from validation.report.filters import FILTERS

#: Where the templates and the stylesheet live: ``reports/`` at the project root, unless the
#: environment variable ``MVAL_REPORTS_DIR`` names another folder.
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "reports"
ENTRY_TEMPLATE = "evidence.html"
STYLESHEET = "report.css"


def templates_dir(path: str | Path | None = None) -> Path:
    """The folder holding the report templates and stylesheet."""
    folder = Path(path or os.environ.get("MVAL_REPORTS_DIR") or DEFAULT_TEMPLATES)
    if not (folder / ENTRY_TEMPLATE).is_file():
        raise ReportError(f"report templates not found: {folder / ENTRY_TEMPLATE} does not exist")
    return folder


def make_environment(folder: str | Path | None = None) -> jinja2.Environment:
    """A Jinja2 environment with autoescaping, StrictUndefined and the report's number filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir(folder))),
        autoescape=jinja2.select_autoescape(("html", "htm", "xml", "j2"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def stylesheet(folder: str | Path | None = None) -> str:
    """``report.css`` followed by the section stylesheets ``css/*.css`` (in name order)."""
    root = templates_dir(folder)
    parts = [root / STYLESHEET, *sorted((root / "css").glob("*.css"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in parts)


def render_html(context: Mapping[str, Any], *, folder: str | Path | None = None) -> str:
    """Render the report's HTML (stylesheet embedded, so the file stands alone) from a context."""
    env = make_environment(folder)
    css = stylesheet(folder)
    try:
        # The stylesheet is the project's own file, not data: embedded unescaped.
        return env.get_template(ENTRY_TEMPLATE).render(**context, stylesheet=Markup(css))
    except jinja2.UndefinedError as exc:
        raise ReportError(
            f"report template refers to a field the context lacks: {exc.message}"
        ) from exc
    except jinja2.TemplateError as exc:
        raise ReportError(f"report template error: {exc}") from exc


#: PDF/A part and conformance level of every report: archival, with embedded files allowed.
PDF_VARIANT = "pdf/a-3b"


def write_pdf(
    html: str,
    out_pdf: str | Path,
    *,
    base_url: str | Path | None = None,
    attachments: Sequence[tuple[Path, str]] = (),
    identifier: str = "",
) -> Path:
    """Lay out ``html`` as a PDF/A-3b with WeasyPrint: the only call to WeasyPrint in the toolkit.

    ``attachments`` are ``(file, description)`` pairs embedded as associated files (PDF/A-3
    relationship "Data"). ``identifier`` (any text; hashed) fixes the PDF's file identifier, so
    the same report content gives the same PDF bytes apart from its creation time; the
    document's dates come from the ``dcterms.created`` / ``dcterms.modified`` meta elements.
    """
    import weasyprint  # imported here: slow to import, and only this function needs it

    out = Path(out_pdf)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [
        weasyprint.Attachment(
            filename=str(path), name=path.name, description=description, relationship="Data"
        )
        for path, description in attachments
    ]
    options: dict[str, Any] = {"pdf_variant": PDF_VARIANT, "attachments": files}
    if identifier:
        options["pdf_identifier"] = hashlib.sha256(identifier.encode()).hexdigest()[:32].encode()
    try:
        document = weasyprint.HTML(string=html, base_url=str(base_url or templates_dir()))
        document.write_pdf(str(out), **options)
    except Exception as exc:  # WeasyPrint raises many types; report them as one
        raise ReportError(f"could not write PDF {out}: {type(exc).__name__}: {exc}") from exc
    return out


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
        If the results are missing or lack a required field, the kind is unknown, or rendering
        fails.
    """
    if kind not in KINDS:
        raise ReportError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    results, table = load_results(results_path)
    manifest = Path(results_path).parent / str(results["data"]["manifest"]["path"])
    if not manifest.is_file():
        raise ReportError(f"dataset manifest {manifest} not found (written by `mval analyze`)")
    context = build_context(results, table, kind=kind)
    html = render_html(context)
    out = Path(out_pdf)
    html_path = out.with_suffix(".html")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(html, encoding="utf-8")
    pdf_path = write_pdf(
        html,
        out,
        attachments=[
            (Path(results_path), "Machine-readable results of the analysis (results.json)"),
            (manifest, "Dataset manifest: every received file with its sha256"),
        ],
        identifier=f"{results['report_id']}/{kind}",
    )
    return {"pdf": pdf_path, "html": html_path}
