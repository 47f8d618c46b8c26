"""The written output contracts: JSON Schemas of the documents and tables the toolkit writes.

Every output other programs read has a JSON Schema (Draft 2020-12) in this folder, and these
schemas are the public interface (a change gets a CHANGELOG entry with a migration note):

- ``results``: ``results/<protocol>/analysis/results.json`` (``mval analyze``);
- ``manifest``: ``results/<protocol>/analysis/manifest.json``, the dataset manifest
  (``mval analyze``);
- ``surveillance``: ``results/<protocol>/surveillance/surveillance.json`` (``mval monitor run``);
- ``alerts``: ``results/<protocol>/surveillance/alerts.json`` (``mval monitor run``);
- ``accounting``: each partition's ``accounting.csv`` (``mval ingest``) and the merged
  ``results/<protocol>/ingest/accounting.csv`` (``mval analyze --accounting-out``);
- ``predictions``: each partition's predictions table (``mval infer``).

The writers validate what they write (an invalid output is a bug of the toolkit, never written);
the reports validate what they read (:func:`load_document` with ``error=ReportError``); the test
fakes validate when they are built.

Documents are checked with :mod:`jsonschema`. Tables are checked column by column with pandas
(a predictions table can have 50,000 rows): a table's schema is ``{"type": "array", "items":
<row>}`` whose row object declares every column (``x-columns`` gives their order in the file),
read as the CSV holds it: an empty cell is ``null``, any other cell the text of the declared type
(``integer``, ``number``: finite, no ``nan``/``inf``; ``boolean``: ``True``/``False``;
``string``). Rules that depend on another column are ``allOf`` entries of the form ``{"if":
{"properties": {<column>: {"const": <value>}}}, "then": {"properties": {...}}}``; the ``then``
may also hold an ``anyOf`` of one-column ``{"properties": {<column>: {"type": ...}}}``
alternatives (at least one of those columns is filled).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import jsonschema
import pandas as pd
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from validation.exceptions import AnalysisError, ValidationToolkitError
from validation.schema import load_schema

#: The output documents (JSON) with a schema in this folder.
DOCUMENTS: tuple[str, ...] = ("results", "manifest", "surveillance", "alerts")
#: The output tables (CSV) with a schema in this folder.
TABLES: tuple[str, ...] = ("accounting", "predictions")
#: How many problems a message lists (the count of the rest follows).
MAX_PROBLEMS = 12

ErrorType = type[ValidationToolkitError]


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``validation/schemas/<name>.schema.json`` (a copy: edit it freely).

    Parameters
    ----------
    name : str
        A document of :data:`DOCUMENTS`, a table of :data:`TABLES`, or an input schema
        (``protocol``, ``site``, ``workflow-config``, ``model-card``).

    Returns
    -------
    dict
        The parsed schema.

    Raises
    ------
    ValueError
        If there is no schema of that name.

    Examples
    --------
    >>> schema("alerts")["$schema"]
    'https://json-schema.org/draft/2020-12/schema'
    """
    return copy.deepcopy(_schema(name))


def _schema(name: str) -> dict[str, Any]:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z-]*", name):
        raise ValueError(f"name must be a schema name such as 'results'; got {name!r}")
    try:
        return load_schema(name)
    except FileNotFoundError:
        known = ", ".join((*DOCUMENTS, *TABLES))
        raise ValueError(f"no schema named {name!r} (output schemas: {known})") from None


@cache
def _registry() -> Registry:
    """Every schema of this folder under its file name, so that a reference to another schema
    (``"$ref": "alerts.schema.json"``) resolves as it does for a validator reading the files."""
    registry: Registry = Registry()
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".schema.json"):
            other = entry.name.removesuffix(".schema.json")
            registry = registry.with_resource(entry.name, Resource.from_contents(_schema(other)))
    return registry


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_schema(name), registry=_registry())


def schema_file(name: str) -> str:
    """The schema's path in the source tree, for messages (``validation/schemas/<name>...``)."""
    return f"validation/schemas/{name}.schema.json"


# ---------------------------------------------------------------------------------- documents


def validate_document(
    data: Any, name: str, *, source: str | Path, error: ErrorType = AnalysisError
) -> None:
    """Check a parsed JSON document against the schema ``name``.

    Parameters
    ----------
    data : object
        The document as :func:`json.loads` returns it, or as a writer is about to dump it (a
        NaN or infinite float anywhere fails, named by its path: JSON has none, an undefined
        value is null).
    name : str
        The schema, e.g. ``"results"`` (see :data:`DOCUMENTS`).
    source : str or path
        The file the document comes from or goes to, for the message.
    error : type, default AnalysisError
        The exception raised: a writer passes its stage's error (writing an invalid document
        is a bug), a report ``ReportError``.

    Raises
    ------
    error
        ``<source> does not match the <name> schema (<schema file>):`` then one line per
        problem (at most :data:`MAX_PROBLEMS`), ``<source>: <JSON path> <what was expected>``,
        e.g. ``endpoints[1].verdict expected one of PASS, FAIL, NOT EVALUABLE, NOT TESTED, got
        'MAYBE'`` or ``protocol.sha256 is missing (required)``.
    ValueError
        If there is no schema ``name``.

    Examples
    --------
    >>> validate_document([], "alerts", source="alerts.json")
    >>> validate_document({}, "alerts", source="alerts.json")
    Traceback (most recent call last):
    ...
    validation.exceptions.AnalysisError: alerts.json does not match the alerts schema \
(validation/schemas/alerts.schema.json):
    alerts.json: (top level) expected array, got object {}
    """
    validator = _validator(name)
    # one line per problem (jsonschema reports a missing required field once per field)
    problems = list(
        dict.fromkeys(
            line for problem in validator.iter_errors(data) for line in _describe(problem)
        )
    )
    problems += [
        f"{_path(where)} expected a finite number or null, got {value!r} (not JSON)"
        for where, value in _non_finite(data, [])
    ]
    if problems:
        _raise(problems, name, source, error)


def load_document(path: str | Path, name: str, *, error: ErrorType = AnalysisError) -> Any:
    """Read, parse and validate the JSON document at ``path`` against the schema ``name``.

    Parameters
    ----------
    path : str or path
        The file, e.g. ``results/demo/analysis/results.json``.
    name : str
        The schema (see :data:`DOCUMENTS`).
    error : type, default AnalysisError
        The exception raised (a report passes ``ReportError``).

    Returns
    -------
    object
        The parsed document.

    Raises
    ------
    error
        If the file does not exist (``... does not exist (file not found)``), cannot be read,
        is not valid JSON (NaN and Infinity are not JSON), or does not match the schema (see
        :func:`validate_document`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{name} file {path} does not exist (file not found)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{name} file {path} cannot be read: {exc}") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise error(f"{name} file {path} is not valid JSON: {exc}") from None
    validate_document(data, name, source=path, error=error)
    return data


def _non_finite(value: Any, where: list[Any]) -> list[tuple[list[Any], float]]:
    """Paths of the NaN and infinite floats in ``value`` (JSON Schema counts them as numbers,
    but JSON has none: an undefined value is written as null)."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(where, value)]
    if isinstance(value, Mapping):
        return [hit for k, v in value.items() for hit in _non_finite(v, [*where, k])]
    if isinstance(value, list | tuple):
        return [hit for i, v in enumerate(value) for hit in _non_finite(v, [*where, i])]
    return []


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number (an undefined value must be null)")


def _raise(problems: list[str], name: str, source: str | Path, error: ErrorType) -> None:
    shown = [f"{source}: {line}" for line in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"(and {len(problems) - MAX_PROBLEMS} more)")
    raise error(
        f"{source} does not match the {name} schema ({schema_file(name)}):\n" + "\n".join(shown)
    )


def _path(parts: Sequence[Any]) -> str:
    """``endpoints[1].verdict`` from the path parts; ``(top level)`` for the root."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _NAME.fullmatch(str(part)):  # a map's key such as a version "1.1.0"
            text += f"[{json.dumps(part)}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _describe(problem: ValidationError) -> list[str]:
    """One line per problem: the JSON path and what was expected there."""
    where = list(problem.absolute_path)
    # jsonschema types these as possibly unset; an error from iter_errors has them all
    validator, value = problem.validator, cast(Any, problem.instance)
    spec = cast(Any, problem.validator_value)
    if validator in ("oneOf", "anyOf") and problem.context:
        return _closest_form(problem)
    if validator == "required":
        missing = [key for key in spec if key not in value]
        return [f"{_path([*where, key])} is missing (required)" for key in missing]
    if validator == "dependentRequired":
        needed = {key: deps for key, deps in spec.items() if key in value}
        return [
            f"{_path([*where, dep])} is missing (required with {key})"
            for key, deps in needed.items()
            for dep in deps
            if dep not in value
        ]
    if validator == "additionalProperties":
        known = set(cast(Any, problem.schema).get("properties", {}))
        extra = sorted(k for k in value if k not in known)
        return [f"{_path([*where, key])} is not a field of the schema" for key in extra]
    if "propertyNames" in problem.relative_schema_path:  # the key of a map, not its value
        return [f"{_path(where)} has the key {value!r}, which is not allowed ({problem.message})"]
    if validator == "enum":
        expected = "one of " + ", ".join(_plain(v) for v in spec)
    elif validator == "const":
        expected = _plain(spec)
    elif validator == "type":
        expected = " or ".join(spec) if isinstance(spec, list) else str(spec)
    else:
        return [f"{_path(where)}: {problem.message}"]
    return [f"{_path(where)} expected {expected}, got {_shown(value)}"]


def _closest_form(problem: ValidationError) -> list[str]:
    """For a oneOf/anyOf, the problems of the alternative the value comes closest to."""
    branches: dict[Any, list[ValidationError]] = {}
    for sub in problem.context or []:
        branches.setdefault(sub.schema_path[0], []).append(sub)

    depth = len(problem.absolute_path)

    def cost(errors: list[ValidationError]) -> tuple[int, int]:
        """Fields wrong or missing in that form; a value of another type, or a wrong tag (a
        const or enum field directly inside the value, e.g. ``status``), marks the form as
        meant for other values."""
        size = 0
        for e in errors:
            if e.validator == "additionalProperties" and isinstance(e.instance, Mapping):
                known = cast(Any, e.schema).get("properties", {})
                size += max(1, len(set(e.instance) - set(known)))
            elif e.validator in ("const", "enum") and len(e.absolute_path) == depth + 1:
                size += 10
            elif e.validator == "type" and len(e.absolute_path) == depth:
                size += 10  # not even the form's type
            else:
                size += 1
        return size, -max(len(e.absolute_path) for e in errors)

    best = min(branches.values(), key=cost)
    forms = len(cast(Any, problem.validator_value))
    lines = [line for e in best for line in _describe(e)]
    head = f"{_path(list(problem.absolute_path))} matches none of its {forms} allowed forms"
    return [f"{head}; closest: {lines[0]}", *lines[1:]]


def _plain(value: Any) -> str:
    return "null" if value is None else (value if isinstance(value, str) else json.dumps(value))


def _shown(value: Any) -> str:
    """A value for a message: text quoted, containers named and shortened."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, float) and not math.isfinite(value):
        text = repr(value)  # NaN or inf: not JSON (json.dumps would write NaN)
    else:
        text = json.dumps(value, default=str)
        if isinstance(value, dict | list):
            text = f"{'object' if isinstance(value, dict) else 'array'} {text}"
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------- tables


def table_columns(name: str) -> list[str]:
    """The columns of the table ``name`` in file order (the schema's ``x-columns``).

    Examples
    --------
    >>> table_columns("predictions")[:3]
    ['site', 'vendor', 'sop_instance_uid']
    """
    return list(_row_schema(name)["x-columns"])


def _row_schema(name: str) -> dict[str, Any]:
    table = _schema(name)
    row = table.get("items") if table.get("type") == "array" else None
    if not isinstance(row, dict) or "x-columns" not in table:
        raise ValueError(f"{schema_file(name)} is not a table schema (array of rows, x-columns)")
    return {**row, "x-columns": table["x-columns"]}


def validate_table(
    frame: pd.DataFrame, name: str, *, source: str | Path, error: ErrorType = AnalysisError
) -> None:
    """Check a table against the schema ``name``, column by column (vectorised).

    Parameters
    ----------
    frame : DataFrame
        The table as read with ``pd.read_csv(path, dtype=str, keep_default_na=False)`` (an
        empty cell is ``null``), or the frame a writer is about to write (``None``/NaN are
        ``null``; other values are checked as the text the CSV will hold).
    name : str
        The schema, e.g. ``"predictions"`` (see :data:`TABLES`).
    source : str or path
        The file the table comes from or goes to, for the message.
    error : type, default AnalysisError
        The exception raised.

    Raises
    ------
    error
        ``<source> does not match the <name> schema (<schema file>):`` then one line per
        problem: a missing, unexpected or misplaced column, or per column the rows whose values
        break a rule, e.g. ``column 'status', row 7 (line 8): expected one of predicted,
        quality_rejected, got 'maybe'`` (with the count of further rows).
    TypeError
        If ``frame`` is not a DataFrame.
    ValueError
        If there is no table schema ``name``, or it uses a keyword this checker does not know.

    Examples
    --------
    >>> rows = pd.DataFrame({"site": ["s01"], "vendor": ["GE"]})
    >>> validate_table(rows, "predictions", source="p.csv")
    Traceback (most recent call last):
    ...
    validation.exceptions.AnalysisError: p.csv does not match the predictions schema \
(validation/schemas/predictions.schema.json):
    p.csv: missing column(s) sop_instance_uid, study_instance_uid, file_sha256, status, \
detail, measurement, probability, model_name, model_version, model_sha256
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    row = _row_schema(name)
    columns = list(row["x-columns"])
    present = [str(c) for c in frame.columns]
    problems = []
    missing = [c for c in columns if c not in present]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if row.get("additionalProperties") is False:
        extra = [c for c in present if c not in columns]
        if extra:
            problems.append(f"unexpected column(s) {', '.join(extra)} (not in the schema)")
    known = [c for c in present if c in columns]
    if not missing and known != columns[: len(known)]:
        problems.append(f"columns out of order: expected {', '.join(columns)}")
    text = {c: _cells(frame[c]) for c in columns if c in present}
    everywhere = pd.Series(True, index=pd.RangeIndex(len(frame)))
    for column, rule in row.get("properties", {}).items():
        if column in text:
            problems += _check_column(column, text[column], rule, everywhere)
    for conditional in row.get("allOf", []):
        problems += _check_conditional(conditional, text, everywhere)
    if problems:
        _raise(problems, name, source, error)


def load_table(path: str | Path, name: str, *, error: ErrorType = AnalysisError) -> pd.DataFrame:
    """Read the CSV table at ``path`` as text (empty cells ``""``) and validate it.

    Raises
    ------
    error
        If the file does not exist, cannot be parsed, or does not match the schema (see
        :func:`validate_table`).
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise error(f"{name} file {path} does not exist (file not found)") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise error(f"{name} file {path} cannot be read as CSV: {exc}") from None
    validate_table(frame, name, source=path, error=error)
    return frame


def _cells(values: pd.Series) -> pd.Series:
    """Every cell as the text the CSV holds; None for an empty or missing cell."""
    text = values.astype(str)
    missing = values.isna().to_numpy() | text.eq("").to_numpy()
    return text.where(~missing, None).reset_index(drop=True)


_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TYPE_PATTERNS = {
    "integer": re.compile(r"-?\d+"),
    "number": re.compile(_NUMBER),
    "boolean": re.compile(r"True|False"),
}
_COLUMN_KEYWORDS = {
    "type",
    "enum",
    "const",
    "pattern",
    "minLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "description",
    "title",
}


def _check_column(
    column: str, cells: pd.Series, rule: Mapping[str, Any], rows: pd.Series
) -> list[str]:
    """The problems of one column over the selected ``rows`` (a boolean mask)."""
    unknown = set(rule) - _COLUMN_KEYWORDS
    if unknown:
        raise ValueError(f"column {column!r}: table schemas do not support {sorted(unknown)}")
    null = cells.isna()
    problems = []
    types = rule.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else list(types)
        ok = null.copy() if "null" in types else pd.Series(False, index=cells.index)
        text = cells.fillna("")
        for kind in types:
            if kind == "string":
                ok = ok | ~null
            elif kind in _TYPE_PATTERNS:
                ok = ok | (~null & text.str.fullmatch(_TYPE_PATTERNS[kind].pattern))
            elif kind != "null":
                raise ValueError(f"column {column!r}: unsupported type {kind!r}")
        problems += _bad(column, cells, rows & ~ok, "expected " + " or ".join(types))
    allowed = rule.get("enum", [rule["const"]] if "const" in rule else None)
    if allowed is not None:
        texts = {_plain(v) for v in allowed if v is not None}
        ok = cells.isin(texts) | (null & (None in allowed))
        expected = "one of " + ", ".join(_plain(v) for v in allowed)
        problems += _bad(column, cells, rows & ~ok, f"expected {expected}")
    if "pattern" in rule:
        ok = null | cells.fillna("").str.contains(rule["pattern"], regex=True)
        problems += _bad(column, cells, rows & ~ok, f"expected text matching {rule['pattern']}")
    if "minLength" in rule:
        ok = null | (cells.fillna("").str.len() >= rule["minLength"])
        expected = f"expected at least {rule['minLength']} character(s)"
        problems += _bad(column, cells, rows & ~ok, expected)
    bounds: dict[str, Callable[[pd.Series, float], pd.Series]] = {
        "minimum": lambda x, b: x >= b,
        "maximum": lambda x, b: x <= b,
        "exclusiveMinimum": lambda x, b: x > b,
        "exclusiveMaximum": lambda x, b: x < b,
    }
    for keyword, test in bounds.items():
        if keyword in rule:
            number = pd.to_numeric(cells, errors="coerce")
            ok = number.isna() | test(number, rule[keyword])
            problems += _bad(column, cells, rows & ~ok, f"expected {keyword} {rule[keyword]}")
    return problems


def _check_conditional(
    rule: Mapping[str, Any], text: Mapping[str, pd.Series], rows: pd.Series
) -> list[str]:
    """``{"if": {"properties": {col: {"const": v}}}, "then": {"properties": {...}}}``."""
    condition, then = rule.get("if", {}), rule.get("then", {})
    tests = condition.get("properties", {})
    if set(rule) - {"if", "then", "description"} or set(condition) - {"properties", "required"}:
        raise ValueError(f"table schemas support allOf entries of if/then only; got {rule}")
    if set(then) - {"properties", "anyOf", "description"}:
        raise ValueError(f"table schemas support 'then': {{'properties': ...}} only; got {then}")
    selected = rows.copy()
    for column, test in tests.items():
        if set(test) != {"const"}:
            raise ValueError(f"table schemas support 'if' on const values only; got {test}")
        if column not in text:
            return []  # reported as a missing column
        selected &= text[column] == _plain(test["const"])
    where = ", ".join(f"{c} = {_plain(t['const'])}" for c, t in tests.items())
    problems = []
    for column, sub in then.get("properties", {}).items():
        if column in text:
            found = _check_column(column, text[column], sub, selected)
            problems += [f"{line} (rows with {where})" for line in found]
    if "anyOf" in then:
        problems += [f"{line} (rows with {where})" for line in _any_filled(then, text, selected)]
    return problems


def _any_filled(
    then: Mapping[str, Any], text: Mapping[str, pd.Series], rows: pd.Series
) -> list[str]:
    """``"anyOf": [{"properties": {col: {"type": t}}}, ...]`` with non-null types: at least one
    of the columns is filled (each column's own rule checks what it holds)."""
    columns = []
    for alternative in then["anyOf"]:
        (column, sub), *more = alternative.get("properties", {}).items()
        types = sub.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        if more or set(alternative) != {"properties"} or set(sub) != {"type"} or "null" in types:
            raise ValueError(
                f"table schemas support 'anyOf' of one non-null column each; got {alternative}"
            )
        columns.append(column)
    if not all(c in text for c in columns):
        return []  # reported as a missing column
    filled = pd.Series(False, index=rows.index)
    for column in columns:
        filled |= text[column].notna()
    first = columns[0]
    return _bad(
        first, text[first], rows & ~filled, f"expected a value in one of {', '.join(columns)}"
    )


def _bad(column: str, cells: pd.Series, wrong: pd.Series, expected: str) -> list[str]:
    """One line naming the first offending row of ``column`` (and how many more there are)."""
    flags = wrong.to_numpy(dtype=bool)
    if not flags.any():
        return []
    first = int(flags.argmax())
    count = int(flags.sum())
    value = cells.iloc[first]
    got = "an empty cell" if pd.isna(value) else repr(value)
    more = f" ({count - 1} more row(s))" if count > 1 else ""
    row = first + 1
    return [f"column {column!r}, row {row} (line {row + 1}): {expected}, got {got}{more}"]
