"""Render a report document: Jinja2 templates to standalone HTML, and WeasyPrint to PDF/A-3b.

Every report of the toolkit (the 510(k) and De Novo evidence reports, the surveillance report)
is rendered by :func:`render_document`: its entry template under the templates folder, one
Jinja2 environment (autoescape, StrictUndefined, the number filters of
:mod:`validation.report.filters`), one stylesheet and one PDF writer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from validation.exceptions import ReportError
from validation.report.filters import FILTERS

#: Where the templates, the stylesheets and the text files live: ``reports/`` at the project
#: root, unless the environment variable ``MVAL_REPORTS_DIR`` names another folder.
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "reports"
#: A file every templates folder has (the evidence report's entry template).
MARKER_TEMPLATE = "evidence.html"
STYLESHEET = "report.css"
#: PDF/A part and conformance level of every report: archival, with embedded files allowed.
PDF_VARIANT = "pdf/a-3b"


def templates_dir(path: str | Path | None = None) -> Path:
    """The folder holding the report templates, stylesheets and text files."""
    folder = Path(path or os.environ.get("MVAL_REPORTS_DIR") or DEFAULT_TEMPLATES)
    if not (folder / MARKER_TEMPLATE).is_file():
        raise ReportError(f"report templates not found: {folder / MARKER_TEMPLATE} does not exist")
    return folder


def make_environment(folder: str | Path | None = None) -> jinja2.Environment:
    """A Jinja2 environment with autoescaping, StrictUndefined and the reports' filters."""
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


def render_html(
    template: str, context: Mapping[str, Any], *, folder: str | Path | None = None
) -> str:
    """Render the entry ``template`` with ``context`` as one HTML file (stylesheet embedded).

    Raises
    ------
    ReportError
        If a template refers to a field the context lacks, or fails to render.
    """
    env = make_environment(folder)
    css = stylesheet(folder)
    try:
        # The stylesheet is the project's own file, not data: embedded unescaped.
        return env.get_template(template).render(**context, stylesheet=Markup(css))
    except jinja2.UndefinedError as exc:
        raise ReportError(
            f"report template {template} refers to a field the context lacks: {exc.message}"
        ) from exc
    except jinja2.TemplateError as exc:
        raise ReportError(f"report template {template}: {exc}") from exc


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


def render_document(
    template: str,
    context: Mapping[str, Any],
    out_pdf: str | Path,
    *,
    attachments: Sequence[tuple[Path, str]] = (),
    identifier: str,
) -> dict[str, Path]:
    """Render a report: the HTML beside the PDF (same name, suffix ``.html``) and the PDF/A-3b.

    Parameters
    ----------
    template : str
        The entry template under the templates folder (``evidence.html``,
        ``surveillance/report.html``).
    context : mapping
        The plain template context (built by the report's context builder).
    out_pdf : str or Path
        Where to write the PDF.
    attachments : sequence of (Path, str)
        Files embedded in the PDF, with their descriptions.
    identifier : str
        What fixes the PDF's file identifier (the report id and kind).

    Returns
    -------
    dict
        ``{"pdf": Path, "html": Path}``.

    Raises
    ------
    ReportError
        If a template fails to render or the PDF cannot be written.
    """
    html = render_html(template, context)
    out = Path(out_pdf)
    html_path = out.with_suffix(".html")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(html, encoding="utf-8")
    pdf_path = write_pdf(html, out, attachments=attachments, identifier=identifier)
    return {"pdf": pdf_path, "html": html_path}
