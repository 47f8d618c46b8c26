"""The surveillance report of the synthetic ``surveillance.json``, built once per session.

The input is :func:`tests.surveillance.fake_surveillance.build_surveillance` (which describes
it): 2 sites x 2 vendors and the pooled segment over 12 months, one alarmed segment (s02 / GE),
a missing batch, a duplicate file, drift tests of which one rejects on a trivial effect, months
still awaiting labels and the change of the audited bias since validation. Its context and its
HTML are built once (``context``, ``html``: no WeasyPrint), and its PDF is rendered once by
:func:`~validation.report.surveillance.render_surveillance_report` (``run``, ``text``: the slow
tier) and shared by every test that reads it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pypdf
import pytest

from tests.surveillance.fake_surveillance import build_surveillance, write_run
from validation.report.surveillance import (
    build_surveillance_context,
    render_surveillance_html,
    render_surveillance_report,
)


def squash(text: str) -> str:
    """``text`` without any whitespace (PDF text extraction breaks lines anywhere)."""
    return re.sub(r"\s+", "", text)


def pdf_text(path: Path) -> str:
    """The text of every page of a PDF."""
    reader = pypdf.PdfReader(str(path))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def outline_titles(path: Path) -> list[str]:
    """The titles of every bookmark of a PDF's outline, nested ones included."""

    def titles(items: list) -> list[str]:
        out: list[str] = []
        for item in items:
            out.extend(titles(item) if isinstance(item, list) else [item.title])
        return out

    return titles(pypdf.PdfReader(str(path)).outline)


class _TableRows(HTMLParser):
    """The text of every cell of the body rows of the tables with a given class."""

    def __init__(self, table_class: str) -> None:
        super().__init__()
        self.table_class = table_class
        self.depth = 0
        self.in_body = False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and (self.depth or self.table_class in classes):
            self.depth += 1
        elif self.depth == 1 and tag == "tbody":
            self.in_body = True
        elif self.depth == 1 and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth == 1 and self.in_body and tag == "td":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "tbody":
            self.in_body = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_class: str) -> list[list[str]]:
    """The cell texts of the body rows of the tables of class ``table_class``."""
    parser = _TableRows(table_class)
    parser.feed(html)
    return parser.rows


@pytest.fixture(scope="session")
def data() -> dict[str, Any]:
    """The synthetic ``surveillance.json`` (checked against its schema when built)."""
    return build_surveillance()


@pytest.fixture(scope="session")
def context(data: dict[str, Any]) -> dict[str, Any]:
    """The report's template context (figures drawn), shared read-only."""
    return build_surveillance_context(data)


@pytest.fixture(scope="session")
def html(context: dict[str, Any]) -> str:
    """The report's HTML, rendered without the PDF."""
    return render_surveillance_html(context)


@pytest.fixture(scope="session")
def run(data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The report rendered once, as ``mval monitor run`` renders it: ``surveillance.json`` and
    ``alerts.json`` written to a folder, then the PDF and the HTML beside it."""
    folder = tmp_path_factory.mktemp("surveillance")
    source = write_run(folder, data)
    out = render_surveillance_report(source, folder / "surveillance-report.pdf")
    return {**out, "json": source, "alerts": folder / "alerts.json"}


@pytest.fixture(scope="session")
def text(run: dict[str, Path]) -> str:
    """The text of the rendered PDF."""
    return pdf_text(run["pdf"])
