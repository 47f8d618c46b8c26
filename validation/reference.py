"""A site's sealed reference-standard file, read with the protocol's column names.

Each site keeps its reference readings in a CSV file named by its site file
(``reference.path``), with its own column names: ``reference.key`` names the column holding the
Study Instance UID and ``reference.columns`` maps a protocol column name to the site's
(:class:`validation.sites.Site`). :func:`inspect_reference` is the one place that opens such a
file: it renames the site's columns to the protocol's (the key to
:data:`~validation.sites.STUDY_KEY`) and checks every row. :func:`read_reference` is what the
analysis calls at unblinding; ``mval study check`` (:mod:`validation.study_check`) calls
:func:`inspect_reference` before any image is read, to list every problem at once.

Blinding: the reference stays sealed until unblinding. No message written here holds a value of
the file (not a reading, not a study key): only the file, line numbers, column names and counts.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from validation.exceptions import ConfigError, ValidationToolkitError
from validation.sites import STUDY_KEY, Site

if TYPE_CHECKING:  # pandas is imported when a file is read (the workflow loads this module)
    import pandas as pd

    from validation.protocol import ReferenceStandard

#: Cell texts that mean "no reading" (an empty cell, and the usual spreadsheet spellings).
MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None"})

#: How the values of a protocol column are checked: a number, or a binary label (0 or 1).
Kind = Literal["number", "label"]


@dataclass(frozen=True)
class ReferenceProblem:
    """One problem of a reference file.

    Attributes
    ----------
    line : int or None
        Line of the file (the header is line 1, the first row line 2); None: the whole file.
    column : str or None
        The protocol's name of the column concerned (the message gives the site's name too
        when the site maps it).
    message : str
        What is wrong; never a value of the file.
    """

    line: int | None
    column: str | None
    message: str


@dataclass(frozen=True)
class ReferenceFile:
    """A reference file as read: the mapped table (None when unusable) and its problems."""

    site: str
    path: Path
    table: pd.DataFrame | None
    problems: tuple[ReferenceProblem, ...]

    def describe(self) -> str:
        """The problems, one per line, as ``<file>:<line>: <column>: <message>``."""
        return "\n".join(
            ":".join([str(self.path), *([str(p.line)] if p.line else [])])
            + f": {p.column or 'reference'}: {p.message}"
            for p in self.problems
        )


def reference_columns(standard: ReferenceStandard) -> dict[str, Kind]:
    """The protocol's reference-file columns and how each is checked, in the protocol's order.

    The reference measurement and every reader's measurement are numbers; the label is 0 or 1.
    A protocol without a measurement or without a finding names no such column.
    """
    columns: dict[str, Kind] = {}
    measurement = getattr(standard, "measurement", None)
    label = getattr(standard, "label", None)
    if measurement:
        columns[str(measurement)] = "number"
    if label:
        columns[str(label)] = "label"
    for reader in getattr(standard, "readers", ()) or ():
        columns[str(reader)] = "number"
    return columns


def inspect_reference(
    site: Site, standard: ReferenceStandard, *, value_range: tuple[float, float] | None = None
) -> ReferenceFile:
    """Read ``site``'s reference file with the protocol's column names, and check every row.

    Parameters
    ----------
    site : Site
        The site: its ``reference_path``, ``reference_key`` and ``reference_columns``.
    standard : ReferenceStandard
        The protocol's ``reference_standard``: the columns the file must have.
    value_range : (float, float), optional
        The protocol's plausible range of a reading (``outputs.measurement.range``): a reading
        outside it is a problem.

    Returns
    -------
    ReferenceFile
        ``table`` has the site's columns renamed to the protocol's, the key as
        :data:`~validation.sites.STUDY_KEY` (text), every protocol column as numbers (NaN where
        there is no reading) and any other column as text (NaN where empty); it is None when the
        file cannot be read or lacks a column. ``problems`` lists every problem found: a missing
        file, a CSV that does not parse, a mapped or required column that is missing, a column
        named twice after the mapping, an empty or repeated study key, a value that is not a
        finite number, a label other than 0 or 1, a reading outside ``value_range``.

    Notes
    -----
    Line numbers assume one line per row (no quoted line breaks): row ``i`` (from 0) is line
    ``i + 2``. A cell of :data:`MISSING` is "no reading" and passes (the analysis counts such a
    study as without reference).
    """
    import pandas as pd

    path = Path(site.reference_path)

    def done(table: pd.DataFrame | None, problems: Iterable[ReferenceProblem]) -> ReferenceFile:
        return ReferenceFile(site.id, path, table, tuple(problems))

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        return done(
            None, [ReferenceProblem(None, None, f"reference file of site {site.id} not found")]
        )
    except IsADirectoryError:
        return done(None, [ReferenceProblem(None, None, "is a folder, not a CSV file")])
    except PermissionError:
        return done(None, [ReferenceProblem(None, None, "cannot be read (permission denied)")])
    except pd.errors.EmptyDataError:
        return done(None, [ReferenceProblem(None, None, "is empty (no header line)")])
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        # a parser's message gives counts and a line, never the cells
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        line = re.search(r"\bline (\d+)", text)
        return done(
            None,
            [
                ReferenceProblem(
                    int(line.group(1)) if line else None,
                    None,
                    f"not a readable CSV file: {text[:200]}",
                )
            ],
        )
    columns = reference_columns(standard)
    problems = _column_problems(site, header, columns)
    if problems:
        return done(None, problems)
    table = raw.rename(columns=site.reference_renames)
    problems = _key_problems(table[STUDY_KEY])
    for column, kind in columns.items():
        problems.extend(_value_problems(table[column], column, kind, site, value_range))
    for name in table.columns:
        cells: pd.Series = table[name]
        if name == STUDY_KEY:
            table[name] = cells.str.strip()
        elif name in columns:
            readings = cells.where(~cells.str.strip().isin(MISSING))
            table[name] = pd.to_numeric(readings, errors="coerce")
        else:
            table[name] = cells.where(cells != "")
    return done(table, problems)


def read_reference(
    site: Site,
    standard: ReferenceStandard,
    *,
    value_range: tuple[float, float] | None = None,
    error: type[ValidationToolkitError] = ConfigError,
) -> pd.DataFrame:
    """``site``'s reference table with the protocol's column names, or ``error`` listing every
    problem of the file (see :func:`inspect_reference`).

    Parameters
    ----------
    site : Site
        The site whose sealed reference file to read.
    standard : ReferenceStandard
        The protocol's ``reference_standard``.
    value_range : (float, float), optional
        The protocol's plausible range of a reading (see :func:`inspect_reference`).
    error : type of ValidationToolkitError, default ConfigError
        The exception to raise (the analysis raises :class:`~validation.exceptions.AnalysisError`).

    Returns
    -------
    DataFrame
        :data:`~validation.sites.STUDY_KEY`, the protocol's columns and the file's other columns.

    Raises
    ------
    ConfigError (or ``error``)
        Naming the file and, line by line, each problem and column (never a value).

    Examples
    --------
    >>> from validation.protocol import ReferenceStandard
    >>> standard = ReferenceStandard("", measurement="ef", label="reduced", readers=())
    >>> table = read_reference(site, standard)  # doctest: +SKIP
    >>> list(table.columns)  # doctest: +SKIP
    ['study_instance_uid', 'ef', 'reduced']
    """
    read = inspect_reference(site, standard, value_range=value_range)
    if read.problems or read.table is None:
        count = len(read.problems)
        raise error(
            f"{read.path}: reference file of site {site.id} has {count} problem"
            f"{'s' if count != 1 else ''}:\n{read.describe()}"
        )
    return read.table


def _site_name(site: Site, column: str) -> str:
    """``column`` as the site's file names it, e.g. ``"consensus_ef (site column X)"``."""
    theirs = site.reference_key if column == STUDY_KEY else site.reference_columns.get(column)
    return f"{column} (site column {theirs!r})" if theirs and theirs != column else column


def _column_problems(
    site: Site, present: list[str], columns: dict[str, Kind]
) -> list[ReferenceProblem]:
    """The header's problems: a column named twice, a mapped or required column missing."""
    problems: list[ReferenceProblem] = []
    listed = f"(the file's columns: {', '.join(present)})"
    for column in sorted({c for c in present if present.count(c) > 1}):
        problems.append(ReferenceProblem(1, column, "the header names this column more than once"))
    if site.reference_key not in present:
        problems.append(
            ReferenceProblem(
                1,
                _site_name(site, STUDY_KEY),
                f"the study key column (reference.key) is missing {listed}",
            )
        )
    for column, theirs in site.reference_columns.items():
        if theirs not in present:
            problems.append(
                ReferenceProblem(
                    1,
                    _site_name(site, column),
                    f"reference.columns maps it to a column the file lacks {listed}",
                )
            )
    for column in columns:
        if column not in site.reference_columns and column not in present:
            problems.append(
                ReferenceProblem(
                    1,
                    column,
                    "required by the protocol but missing; if the file names it differently, map "
                    f"it with reference.columns in {site.source_file} {listed}",
                )
            )
    renamed = [site.reference_renames.get(c, c) for c in present]
    clashes = sorted(
        {c for c in renamed if renamed.count(c) > 1} - {c for c in present if present.count(c) > 1}
    )
    for column in clashes:
        problems.append(
            ReferenceProblem(
                1,
                column,
                "named twice after the site's mapping: the file has a column of this name and "
                "the mapping renames another column to it",
            )
        )
    return problems


def _key_problems(keys: pd.Series) -> list[ReferenceProblem]:
    """Empty and repeated study keys; row ``i`` (from 0) is line ``i + 2``."""
    problems: list[ReferenceProblem] = []
    first: dict[str, int] = {}
    for row, cell in enumerate(keys.tolist()):
        key = str(cell).strip()
        if not key:
            problems.append(ReferenceProblem(row + 2, STUDY_KEY, "empty study key"))
        elif key in first:
            problems.append(
                ReferenceProblem(
                    row + 2, STUDY_KEY, f"repeats the study key of line {first[key] + 2}"
                )
            )
        else:
            first[key] = row
    return problems


def _value_problems(
    values: pd.Series,
    column: str,
    kind: Kind,
    site: Site,
    value_range: tuple[float, float] | None = None,
) -> list[ReferenceProblem]:
    problems: list[ReferenceProblem] = []
    name = _site_name(site, column)
    low, high = value_range if kind == "number" and value_range else (-math.inf, math.inf)
    for row, cell in enumerate(values.tolist()):
        line = row + 2
        text = str(cell).strip()
        if text in MISSING:
            continue
        try:
            number = float(text)
        except ValueError:
            problems.append(ReferenceProblem(line, name, "not a number"))
            continue
        if not math.isfinite(number):
            problems.append(ReferenceProblem(line, name, "not a finite number"))
        elif kind == "label" and number not in (0.0, 1.0):
            problems.append(ReferenceProblem(line, name, "a label must be 0 or 1"))
        elif not low <= number <= high:
            problems.append(
                ReferenceProblem(
                    line, name, f"outside the protocol's range {low:g} to {high:g} (a slip?)"
                )
            )
    return problems
