"""``mval study check``: every mistake in a study's files, found in seconds before a run.

A run reads the protocol, the site files, the partitions' images, the model cards and, last, at
unblinding, the sealed reference files; a mistake in any of them used to stop the run at the
stage that first read it, often hours in. :func:`check_study` reads them all at once, without
reading pixel data or running a model, and lists every problem with its file and line:

- the workflow config (when given) and the protocol: YAML syntax, the schema, and the protocol's
  own consistency checks (:func:`validation.protocol.build_protocol`);
- every site file: YAML syntax, the schema, its id, partitions and reference mapping
  (:func:`validation.sites.load_site`), deployed versions the protocol locks;
- every partition source: a folder exists, is a folder, can be read (empty: a warning); a
  DICOMweb server answers a QIDO-RS study search (:func:`validation.ingest.dicomweb.probe`);
- every reference file, as :func:`validation.reference.inspect_reference` reads it: it parses,
  has the protocol's columns after the site's mapping, unique non-empty study keys, finite
  numbers, labels 0 or 1; warnings for readings outside the range a quantity of the protocol's
  unit can take (:data:`PLAUSIBLE`), keys that are not DICOM UIDs and studies without a reading;
- every locked model version's card: YAML syntax, the schema, its version, and the sha256 of
  its weights file against the card's and the protocol's (the file's hash only).

Blinding: the reference files are sealed until unblinding. The check reads their values to
validate them but reports none: only file names, line numbers, column names and counts.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from validation.exceptions import StudyCheckError, ValidationToolkitError
from validation.hashing import sha256_file
from validation.schema import schema_problems
from validation.sites import STUDY_KEY, Site, load_site

if TYPE_CHECKING:
    import pandas as pd
    import requests

    from validation.protocol import Protocol

Severity = Literal["error", "warning"]

#: The range a reference reading in a UCUM unit can physically take, ``(low, high)`` with None
#: for no bound; a reading outside it is a warning (a unit mix-up, a sign or decimal slip). A
#: length, area, volume or duration is never negative, and no length measured on one patient's
#: image exceeds the length of a body (2.5 m). Units not listed (``%`` holds signed strain, for
#: one) are not range-checked.
PLAUSIBLE: dict[str, tuple[float | None, float | None]] = {
    "mm": (0.0, 2500.0),
    "cm": (0.0, 250.0),
    "m": (0.0, 2.5),
    "mm2": (0.0, None),
    "cm2": (0.0, None),
    "mL": (0.0, None),
    "L": (0.0, None),
    "ms": (0.0, None),
    "s": (0.0, None),
}

#: A DICOM UID (PS3.5 9.1): digits and dots, no leading zero in a component, at most 64 chars.
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
#: How many line numbers a finding about many rows names before "and N more".
_LINES_SHOWN = 10


@dataclass(frozen=True)
class Finding:
    """One problem: ``<file>:<line>: <field>: <message>`` (``line`` None: the whole file)."""

    file: str
    line: int | None
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        warning = "warning: " if self.severity == "warning" else ""
        return f"{where}: {self.field}: {warning}{self.message}"


@dataclass(frozen=True)
class StudyCheck:
    """What :func:`check_study` checked and every problem it found."""

    protocol: str
    sites: str
    findings: tuple[Finding, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def passed(self) -> bool:
        """No error (warnings do not fail a check)."""
        return not self.errors

    def summary(self) -> str:
        """E.g. ``"study check failed: 2 errors, 1 warning (site files 4, partitions 12, ...)"``."""
        checked = ", ".join(f"{what.replace('_', ' ')} {n}" for what, n in self.counts.items())
        return (
            f"study check {'passed' if self.passed else 'failed'}: "
            f"{_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')}"
            + (f" ({checked})" if checked else "")
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON record (``mval study check --out``)."""
        return {
            "status": "passed" if self.passed else "failed",
            "protocol": self.protocol,
            "sites": self.sites,
            "counts": dict(self.counts),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [asdict(f) for f in self.findings],
        }

    def raise_for_errors(self) -> None:
        """Raise :class:`StudyCheckError` when there is an error."""
        if not self.passed:
            raise StudyCheckError(self.summary())


def check_study(
    protocol: str | Path | None = None,
    sites: str | Path | None = None,
    *,
    config: str | Path | None = None,
    only: Iterable[str] | None = None,
    session: requests.Session | None = None,
    timeout: float = 10.0,
) -> StudyCheck:
    """Check a study's protocol, site files, partition sources, reference files and model cards.

    Parameters
    ----------
    protocol : str or Path, optional
        The protocol file (default: the config's ``protocol``).
    sites : str or Path, optional
        The folder of site files (default: the config's ``sites``).
    config : str or Path, optional
        The workflow config (``config/config.yaml``): checked against its schema, and where the
        protocol and sites come from unless given.
    only : iterable of str, optional
        Site ids whose partitions and reference files to check (a federated site has only its
        own data); default every site. Every site file is checked either way.
    session : requests.Session, optional
        HTTP session for the DICOMweb servers (credentials, certificates).
    timeout : float, default 10.0
        Seconds each DICOMweb server has to answer.

    Returns
    -------
    StudyCheck
        Every problem found (an error or a warning), with the counts of what was checked.
        Relative paths in the files resolve against the current folder, as in a run.

    Raises
    ------
    ConfigError
        When neither ``protocol`` nor ``sites`` can be known (no config names them).

    Examples
    --------
    >>> check = check_study("protocols/demo.yaml", "sites")  # doctest: +SKIP
    >>> for finding in check.findings:  # doctest: +SKIP
    ...     print(finding)
    data/lvef/reference/h01.csv:14: consensus_lvef_pct (site column 'EF_biplane_pct'): not a number
    """
    findings: list[Finding] = []
    if config is not None:
        settings = _check_config(Path(config), findings)
        protocol = protocol or settings.get("protocol")
        sites = sites or settings.get("sites")
    if protocol is None or sites is None:
        from validation.exceptions import ConfigError

        missing = " and ".join(n for n, v in (("protocol", protocol), ("sites", sites)) if not v)
        raise ConfigError(f"study check: no {missing} given (pass them, or a config naming them)")
    counts: dict[str, int] = {}
    loaded = _check_protocol(Path(protocol), findings)
    site_list = _check_sites(Path(sites), loaded, findings)
    counts["site_files"] = len(site_list)
    if only is not None:
        wanted = list(only)
        known = [s.id for s in site_list]
        for unknown in [i for i in wanted if i not in known]:
            findings.append(
                Finding(str(sites), None, "sites", f"no site file has the id {unknown!r}")
            )
        site_list = [s for s in site_list if s.id in wanted]
    counts["partitions"] = sum(len(s.partitions) for s in site_list)
    rows = 0
    for site in site_list:
        _check_partitions(site, findings, session=session, timeout=timeout)
        if loaded is not None:
            rows += _check_reference(site, loaded, findings)
    if loaded is not None:
        counts["reference_files"] = len(site_list)
        counts["reference_rows"] = rows
        counts["models"] = len(loaded.models)
        _check_models(loaded, findings)
    return StudyCheck(str(protocol), str(sites), tuple(findings), counts)


# ---------------------------------------------------------------------------------------------
# YAML files with their lines


@dataclass(frozen=True)
class _Document:
    """A parsed YAML file and its node tree (for the line of any key)."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line(self, where: Sequence[str | int]) -> int | None:
        """The line of the deepest key of ``where`` (a path from the top) the file has."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in where:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def dotted_line(self, dotted: str) -> int | None:
        """The line of a dotted location such as ``partitions[0].source`` or ``analysis.x``."""
        parts: list[str | int] = []
        for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", dotted):
            parts.append(int(index) if index else name)
        return self.line(parts)


def _document(path: Path, findings: list[Finding], what: str) -> _Document | None:
    """Read and parse a YAML file; a missing file or a syntax error becomes a finding."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        findings.append(Finding(str(path), None, what, "file not found"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        findings.append(Finding(str(path), None, what, f"cannot be read ({_reason(exc)})"))
        return None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else None
        findings.append(Finding(str(path), line, what, f"malformed YAML: {problem}"))
        return None
    if not isinstance(data, dict):
        findings.append(Finding(str(path), 1, what, "expected a mapping of keys to values"))
        return None
    return _Document(path, data, root)


def _schema(document: _Document, schema: str, findings: list[Finding]) -> bool:
    """Add every schema violation (with its line); True when there is none."""
    problems = schema_problems(copy.deepcopy(document.data), schema, defaults=True)
    for problem in problems:
        findings.append(
            Finding(
                str(document.path),
                document.line(problem.path),
                problem.location,
                problem.message,
            )
        )
    return not problems


def _from_exception(document: _Document, exc: ValidationToolkitError, what: str) -> Finding:
    """A finding from a loader's message ``<file>: <location> ...``: located when it can be."""
    message = str(exc)
    prefix = f"{document.path}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    token = re.match(r"[A-Za-z_][\w.\[\]]*", message)
    located = token is not None and document.dotted_line(token.group()) != document.line([])
    if located and token is not None:
        return Finding(
            str(document.path), document.dotted_line(token.group()), token.group(), message
        )
    return Finding(str(document.path), None, what, message)


# ---------------------------------------------------------------------------------------------
# the parts of a study


def _check_config(path: Path, findings: list[Finding]) -> dict[str, Any]:
    document = _document(path, findings, "config")
    if document is None:
        return {}
    _schema(document, "workflow-config", findings)
    return dict(document.data)


def _check_protocol(path: Path, findings: list[Finding]) -> Protocol | None:
    from validation.protocol import build_protocol

    document = _document(path, findings, "protocol")
    if document is None or not _schema(document, "protocol", findings):
        return None
    try:
        return build_protocol(document.data, path=path, sha256=sha256_file(path))
    except ValidationToolkitError as exc:
        findings.append(_from_exception(document, exc, "protocol"))
        return None


def _check_sites(folder: Path, protocol: Protocol | None, findings: list[Finding]) -> list[Site]:
    from validation.sites import check_deployments

    if not folder.is_dir():
        findings.append(Finding(str(folder), None, "sites", "the sites folder does not exist"))
        return []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        findings.append(Finding(str(folder), None, "sites", "holds no site file (*.yaml)"))
    sites: list[Site] = []
    for path in files:
        document = _document(path, findings, "site")
        if document is None or not _schema(document, "site", findings):
            continue
        try:
            site = load_site(path)
            if protocol is not None:
                check_deployments([site], [m.version for m in protocol.models])
        except ValidationToolkitError as exc:
            findings.append(_from_exception(document, exc, "site"))
            continue
        sites.append(site)  # ids are unique: each is its file's name
    return sites


def _site_line(site: Site, where: Sequence[str | int]) -> int | None:
    """The line of ``where`` in the site's file (already read once: it parses)."""
    try:
        text = site.source_file.read_text(encoding="utf-8")
        return _Document(site.source_file, None, yaml.compose(text, Loader=yaml.SafeLoader)).line(
            where
        )
    except (OSError, yaml.YAMLError):
        return None


def _check_partitions(
    site: Site,
    findings: list[Finding],
    *,
    session: requests.Session | None,
    timeout: float,
) -> None:
    from validation.ingest.dicomweb import probe

    for index, partition in enumerate(site.partitions):
        where = f"partitions[{index}].source"
        if partition.source_kind == "dicomweb":
            line = _site_line(site, ["partitions", index, "source", "url"])
            try:
                found = probe(
                    str(partition.source_url),
                    partition.study_filter,
                    session=session,
                    timeout=timeout,
                )
            except ValidationToolkitError as exc:
                findings.append(Finding(str(site.source_file), line, f"{where}.url", str(exc)))
                continue
            if not found:
                findings.append(
                    Finding(
                        str(site.source_file),
                        line,
                        f"{where}.study_filter",
                        f"the DICOMweb server answers, but no study matches the filter "
                        f"{partition.study_filter or '{}'}",
                        "warning",
                    )
                )
            continue
        folder = Path(str(partition.source_path))
        line = _site_line(site, ["partitions", index, "source", "path"])
        problem, severity = _folder_problem(folder)
        if problem:
            findings.append(
                Finding(str(site.source_file), line, f"{where}.path", problem, severity)
            )


def _folder_problem(folder: Path) -> tuple[str | None, Severity]:
    if not folder.exists():
        return f"partition folder {folder} does not exist", "error"
    if not folder.is_dir():
        return f"partition source {folder} is not a folder", "error"
    if not os.access(folder, os.R_OK | os.X_OK):
        return f"partition folder {folder} cannot be read (permission denied)", "error"
    try:
        empty = next(folder.iterdir(), None) is None
    except OSError as exc:
        return f"partition folder {folder} cannot be read ({_reason(exc)})", "error"
    if empty:
        return f"partition folder {folder} is empty: the partition will receive no file", "warning"
    return None, "warning"


def _check_reference(site: Site, protocol: Protocol, findings: list[Finding]) -> int:
    """Add the reference file's problems and warnings; return its number of rows."""
    from validation.reference import inspect_reference, reference_columns

    read = inspect_reference(site, protocol.reference_standard, value_range=_declared(protocol))
    for problem in read.problems:
        if problem.line is None:  # the file itself: point at the site file's reference.path
            findings.append(
                Finding(
                    str(site.source_file),
                    _site_line(site, ["reference", "path"]),
                    "reference.path",
                    f"{read.path}: {problem.message}",
                )
            )
        else:
            findings.append(
                Finding(
                    str(read.path), problem.line, problem.column or "reference", problem.message
                )
            )
    if read.table is None:
        return 0
    table = read.table
    findings.extend(_key_warnings(read.path, table[STUDY_KEY]))
    unit = _measurement_unit(protocol)
    for column, kind in reference_columns(protocol.reference_standard).items():
        values = table[column]
        missing = int(values.isna().sum())
        if missing:
            findings.append(
                Finding(
                    str(read.path),
                    None,
                    column,
                    f"{missing} of {len(values)} studies have no reading (the analysis counts "
                    "them as without reference)",
                    "warning",
                )
            )
        # the protocol's own range is the reader's (an error); else the unit's physical one
        if kind == "number" and _declared(protocol) is None and unit in PLAUSIBLE:
            findings.extend(_range_warnings(read.path, column, values, unit, PLAUSIBLE[unit]))
    return len(table)


def _key_warnings(path: Path, keys: pd.Series) -> list[Finding]:
    bad = [
        row + 2
        for row, key in enumerate(keys.tolist())
        if isinstance(key, str) and key and not (len(key) <= 64 and _UID.match(key))
    ]
    if not bad:
        return []
    return [
        Finding(
            str(path),
            bad[0],
            STUDY_KEY,
            f"{len(bad)} study key(s) are not DICOM UIDs (digits and dots, at most 64 "
            f"characters), on lines {_lines(bad)}: they will match no image's Study Instance UID",
            "warning",
        )
    ]


def _range_warnings(
    path: Path,
    column: str,
    values: pd.Series,
    unit: str | None,
    bounds_: tuple[float | None, float | None],
) -> list[Finding]:
    """Readings outside the physical range ``bounds_`` of the unit: a warning."""
    low, high = bounds_
    outside = [
        row + 2
        for row, v in enumerate(values.tolist())
        if not math.isnan(v) and ((low is not None and v < low) or (high is not None and v > high))
    ]
    if not outside:
        return []
    if high is None:
        bounds = f"at least {low:g} {unit}"
    elif low is None:
        bounds = f"at most {high:g} {unit}"
    else:
        bounds = f"{low:g} to {high:g} {unit}"
    return [
        Finding(
            str(path),
            outside[0],
            column,
            f"{len(outside)} reading(s) outside the plausible range ({bounds}) on lines "
            f"{_lines(outside)}: a unit mix-up or a slip?",
            "warning",
        )
    ]


def _declared(protocol: Protocol) -> tuple[float, float] | None:
    """The protocol's plausible range of a reference reading, if it states one."""
    return None if protocol.measurement is None else protocol.measurement.range


def _measurement_unit(protocol: Protocol) -> str | None:
    """The UCUM unit of the protocol's measurement, None when it declares none."""
    return None if protocol.measurement is None else protocol.measurement.unit


def _check_outputs(protocol: Protocol, folder: Path, card: Any, findings: list[Finding]) -> None:
    """The card's outputs give what the protocol judges: its measurement in the protocol's
    unit, a probability for its finding."""
    from validation.model.card import CARD_NAME, read_card

    card_path = Path(folder) / CARD_NAME
    unit = _measurement_unit(protocol)
    for index, problem in read_card(folder).mismatches(unit, protocol.finding is not None):
        where: list[str | int] = ["outputs"] if index is None else ["outputs", index]
        field = "outputs" if index is None else f"outputs[{index}]"
        findings.append(Finding(str(card_path), card.line(where), field, problem))


def _check_models(protocol: Protocol, findings: list[Finding]) -> None:
    from validation.model.card import CARD_NAME

    document = _document(protocol.path, [], "protocol")
    for index, version in enumerate(protocol.models):
        card_path = Path(version.path) / CARD_NAME
        card = _document(card_path, findings, "model card")
        if card is None or not _schema(card, "model-card", findings):
            continue
        if str(card.data["version"]) != version.version:
            findings.append(
                Finding(
                    str(card_path),
                    card.line(["version"]),
                    "version",
                    f"the card is version {card.data['version']}, the protocol locks "
                    f"{version.version} at {version.path}",
                )
            )
        _check_outputs(protocol, version.path, card, findings)
        weights = Path(version.path) / card.data["weights"]["file"]
        if not weights.is_file():
            findings.append(
                Finding(
                    str(card_path),
                    card.line(["weights", "file"]),
                    "weights.file",
                    f"weights file {weights} not found",
                )
            )
            continue
        actual = sha256_file(weights)
        recorded = str(card.data["weights"]["sha256"])
        if recorded != actual:
            findings.append(
                Finding(
                    str(card_path),
                    card.line(["weights", "sha256"]),
                    "weights.sha256",
                    f"weights file {weights} has sha256 {actual}, the card records {recorded}",
                )
            )
        if version.sha256 != actual:
            several = "models" in protocol.data
            where: list[str | int] = ["models", index, "sha256"] if several else ["model", "sha256"]
            findings.append(
                Finding(
                    str(protocol.path),
                    document.line(where) if document else None,
                    f"models[{index}].sha256" if several else "model.sha256",
                    f"weights file {weights} has sha256 {actual}, the protocol records "
                    f"{version.sha256} for version {version.version}",
                )
            )


# ---------------------------------------------------------------------------------------------


def write_record(check: StudyCheck, path: str | Path) -> None:
    """Write the check's JSON record (the workflow's marker that the check ran)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(check.as_dict(), indent=2) + "\n", encoding="utf-8")


def _lines(lines: Iterable[int]) -> str:
    shown = list(lines)
    text = ", ".join(str(n) for n in shown[:_LINES_SHOWN])
    return text + (f" and {len(shown) - _LINES_SHOWN} more" if len(shown) > _LINES_SHOWN else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
