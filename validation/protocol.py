"""The pre-registered validation protocol (statistical analysis plan).

:func:`load_protocol` reads ``protocols/<id>.yaml``, validates it against
``validation/schemas/protocol.schema.json``, fills in every absent setting from the schema's
``default`` keywords (here, once: no default is restated in code), checks what the schema
cannot express, and returns a :class:`Protocol`. The rest of the toolkit reads its typed
sections (:attr:`Protocol.analysis`, :attr:`Protocol.measurement`, :attr:`Protocol.finding`,
:attr:`Protocol.reference_standard`, :attr:`Protocol.multiplicity`, :attr:`Protocol.comparison`
...), never the raw document.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from validation.exceptions import ProtocolError
from validation.hashing import sha256_file
from validation.schema import load_yaml, validate

MEASUREMENT_METRICS = ("bias", "loa_low", "loa_high", "mae", "rmse")
CLASSIFICATION_METRICS = ("sensitivity", "specificity", "auc")


@dataclass(frozen=True)
class Goal:
    """A performance goal judged on the confidence interval, never on the point estimate."""

    lower: float | None = None  # CI lower bound must be >= lower
    upper: float | None = None  # CI upper bound must be <= upper

    def met(self, ci_low: float, ci_high: float) -> bool | None:
        """True/False, or None when the interval is undefined (NaN)."""
        if (self.lower is not None and ci_low != ci_low) or (
            self.upper is not None and ci_high != ci_high
        ):
            return None
        ok = True
        if self.lower is not None:
            ok &= ci_low >= self.lower
        if self.upper is not None:
            ok &= ci_high <= self.upper
        return bool(ok)

    def describe(self) -> str:
        parts = []
        if self.lower is not None:
            parts.append(f"lower CI bound ≥ {_signed(self.lower)}")
        if self.upper is not None:
            parts.append(f"upper CI bound ≤ {_signed(self.upper)}")
        return " and ".join(parts)

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in (("lower", self.lower), ("upper", self.upper)) if v is not None}


@dataclass(frozen=True)
class Endpoint:
    """One pre-specified endpoint."""

    id: str
    label: str
    metric: str
    goal: Goal
    primary: bool = True
    rationale: str = ""

    @property
    def kind(self) -> str:
        return "measurement" if self.metric in MEASUREMENT_METRICS else "classification"


@dataclass(frozen=True)
class ModelVersion:
    """One locked model version named by the protocol."""

    version: str
    role: str  # "released" (the comparator) or "candidate"
    path: Path
    sha256: str

    @property
    def released(self) -> bool:
        return self.role == "released"


#: Direction of improvement of each metric in a version comparison (candidate - released).
BETTER = {
    "bias": "closer to zero",
    "loa_low": "higher",
    "loa_high": "lower",
    "mae": "lower",
    "rmse": "lower",
    "sensitivity": "higher",
    "specificity": "higher",
    "auc": "higher",
}


#: The multiplicity procedures a protocol may name for a family of endpoints.
Procedure = Literal["intersection-union", "holm", "bonferroni", "fixed-sequence"]


@dataclass(frozen=True)
class Device:
    """The device under validation (``device``)."""

    name: str
    intended_use: str
    predicate: str | None = None


@dataclass(frozen=True)
class ReferenceStandard:
    """How the truth is established (``reference_standard``), and its columns in the sealed
    reference files: the reference measurement, the binary label and each reader's measurement
    (a protocol without a measurement has no measurement column, one without a finding no
    label column).
    """

    description: str
    measurement: str | None
    label: str | None
    readers: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The reference-file columns the protocol names: measurement, label, then readers."""
        named = (self.measurement, self.label)
        return (*(c for c in named if c is not None), *self.readers)


@dataclass(frozen=True)
class Concept:
    """A DICOM coded concept (PS3.3 Code Sequence Macro): value, scheme designator, meaning."""

    value: str
    scheme: str
    meaning: str
    version: str | None = None


@dataclass(frozen=True)
class Measurement:
    """The measurement the device reports (``outputs.measurement``): its name, label, UCUM
    unit, display precision and, for the DICOM SR, its concept and anatomical site."""

    name: str
    label: str
    unit: str  # UCUM code
    precision: int  # decimals of a single reading; statistics show one more
    description: str = ""
    concept: Concept | None = None
    site: Concept | None = None
    range: tuple[float, float] | None = None  # plausible reference values

    @property
    def digits(self) -> int:
        """Decimals of a statistic of the measurement (bias, limits, error): one more than a
        reading's."""
        return self.precision + 1


@dataclass(frozen=True)
class Finding:
    """The binary finding the device's probability flags (``outputs.finding``)."""

    name: str
    label: str
    threshold: float  # the probability at or above which a study is called positive
    description: str = ""
    positive: str = ""  # the reference standard's positive rule, in words
    concept: Concept | None = None


@dataclass(frozen=True)
class BootstrapPlan:
    """The patient cluster bootstrap (``analysis.bootstrap``); seeded with ``analysis.seed``."""

    n_resamples: int
    method: Literal["bca", "percentile"]

    @property
    def label(self) -> str:
        """The interval's name as reports print it: ``BCa`` or ``percentile``."""
        return "BCa" if self.method == "bca" else "percentile"


@dataclass(frozen=True)
class HeterogeneityPlan:
    """Random-effects pooling across sites and the not-poolable flag
    (``analysis.heterogeneity``)."""

    method: Literal["REML", "DL"]
    q_alpha: float
    i2_threshold: float


@dataclass(frozen=True)
class AnalysisPlan:
    """The analysis settings (``analysis``), every optional one with its schema default."""

    confidence: float
    proportion_ci: Literal["wilson", "clopper-pearson"]
    loa_ci: Literal["exact", "approximate"]
    loa_multiplier: float
    seed: int
    min_stratum_n: int
    strata: tuple[str, ...]
    #: stratum dimension -> ids of the endpoints judged in each of its strata
    acceptance_by: Mapping[str, tuple[str, ...]]
    age_bands: tuple[float, ...]
    bmi_bands: tuple[float, ...]
    cluster: str | None  # the column whose studies are clustered (a patient), or None
    bootstrap: BootstrapPlan
    deming_error_ratio: float
    heterogeneity: HeterogeneityPlan


@dataclass(frozen=True)
class MultiplicityPlan:
    """Multiplicity control across the endpoints (``multiplicity``): the primary family under
    ``procedure``, the secondary one under ``secondary`` behind the primary family (serial
    gatekeeping, :mod:`validation.analysis.gatekeeping`)."""

    procedure: Procedure
    secondary: Procedure
    alpha: float  # family-wise, two-sided: each goal bound is a one-sided test at alpha / 2
    order: tuple[str, ...]  # endpoint ids in testing order
    rationale: str

    @property
    def one_sided_alpha(self) -> float:
        """The level of each one-sided goal test, ``alpha / 2``."""
        return self.alpha / 2.0


@dataclass(frozen=True)
class ComparisonPlan:
    """The modification protocol (``comparison``): margins and judged strata. Empty (no
    margins) when the protocol names no candidate version."""

    margins: Mapping[str, float]  # endpoint id -> non-inferiority margin
    by: Mapping[str, tuple[str, ...]]  # dimension -> endpoint ids judged in its every stratum
    rationale: str

    def record(self) -> dict[str, Any]:
        """``margins``, ``by`` and ``rationale`` as ``results.json`` writes them."""
        return {
            "margins": dict(self.margins),
            "by": {dimension: list(ids) for dimension, ids in self.by.items()},
            "rationale": self.rationale,
        }


@dataclass(frozen=True)
class Protocol:
    """A loaded, schema-validated protocol with its sha256.

    Build it with :func:`load_protocol` (or :func:`build_protocol`): ``data`` is then the
    validated document with every schema default filled in, and the typed sections below are
    read from it. Code reads the typed sections; ``data`` and :meth:`record` serve the records
    that copy the protocol (``results.json``).
    """

    path: Path
    sha256: str
    data: dict[str, Any] = field(repr=False)
    endpoints: tuple[Endpoint, ...]
    models: tuple[ModelVersion, ...] = ()

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def stem(self) -> str:
        """The results folder name: the protocol file's stem."""
        return self.path.stem

    @property
    def title(self) -> str:
        return str(self.data["title"])

    @property
    def version(self) -> str:
        """The protocol's own version (not a model version)."""
        return str(self.data["version"])

    @property
    def submission(self) -> Literal["510k", "de-novo"]:
        return cast(Literal["510k", "de-novo"], self.data["submission"])

    @property
    def sponsor(self) -> str:
        return str(self.data["sponsor"])

    @property
    def registered(self) -> str | None:
        """The registration date (ISO 8601), or None when the protocol gives none."""
        value = self.data.get("registered")
        return None if value is None else str(value)

    @property
    def sample_size(self) -> str:
        """The sample-size justification (text)."""
        return str(self.data["sample_size"])

    @cached_property
    def device(self) -> Device:
        device = self.data["device"]
        return Device(
            name=str(device["name"]),
            intended_use=str(device["intended_use"]),
            predicate=device.get("predicate"),
        )

    @cached_property
    def reference_standard(self) -> ReferenceStandard:
        ref = self.data["reference_standard"]
        return ReferenceStandard(
            description=str(ref["description"]),
            measurement=_optional_text(ref.get("measurement")),
            label=_optional_text(ref.get("label")),
            readers=tuple(str(r) for r in ref.get("readers", ())),  # optional: none
        )

    @cached_property
    def measurement(self) -> Measurement | None:
        """The measurement the device reports, or None for a classification-only protocol."""
        m = self.data["outputs"].get("measurement")
        if m is None:
            return None
        low_high = m.get("range")
        return Measurement(
            name=str(m["name"]),
            label=str(m["label"]),
            unit=str(m["unit"]),
            precision=int(m["precision"]),
            description=str(m.get("description", "")),
            concept=_concept(m.get("concept")),
            site=_concept(m.get("site")),
            range=None if low_high is None else (float(low_high[0]), float(low_high[1])),
        )

    @cached_property
    def finding(self) -> Finding | None:
        """The finding the device's probability flags, or None for a measurement-only
        protocol."""
        f = self.data["outputs"].get("finding")
        if f is None:
            return None
        return Finding(
            name=str(f["name"]),
            label=str(f["label"]),
            threshold=float(f["threshold"]),
            description=str(f.get("description", "")),
            positive=str(f.get("positive", "")),
            concept=_concept(f.get("concept")),
        )

    @property
    def threshold(self) -> float | None:
        """The finding's decision threshold on the probability (None without a finding)."""
        return None if self.finding is None else self.finding.threshold

    @property
    def spacing_sources(self) -> tuple[str, ...]:
        """Where a pixel's physical size may come from (``images.spacing_sources``)."""
        return tuple(str(s) for s in self.data["images"]["spacing_sources"])

    @cached_property
    def analysis(self) -> AnalysisPlan:
        a = self.data["analysis"]
        boot, het = a["bootstrap"], a["heterogeneity"]
        return AnalysisPlan(
            confidence=float(a["confidence"]),
            proportion_ci=a["proportion_ci"],
            loa_ci=a["loa_ci"],
            loa_multiplier=float(a["loa_multiplier"]),
            seed=int(a["seed"]),
            min_stratum_n=int(a["min_stratum_n"]),
            strata=tuple(a["strata"]),
            acceptance_by=_frozen_lists(a["acceptance_by"]),
            age_bands=tuple(float(x) for x in a["age_bands"]),
            bmi_bands=tuple(float(x) for x in a["bmi_bands"]),
            cluster=a.get("cluster"),
            bootstrap=BootstrapPlan(n_resamples=int(boot["n_resamples"]), method=boot["method"]),
            deming_error_ratio=float(a["deming_error_ratio"]),
            heterogeneity=HeterogeneityPlan(
                method=het["method"],
                q_alpha=float(het["q_alpha"]),
                i2_threshold=float(het["i2_threshold"]),
            ),
        )

    @property
    def confidence(self) -> float:
        """The two-sided confidence level every goal is judged at."""
        return self.analysis.confidence

    @property
    def bootstrap(self) -> BootstrapPlan:
        return self.analysis.bootstrap

    @cached_property
    def multiplicity(self) -> MultiplicityPlan:
        """The multiplicity plan; ``alpha`` defaults to ``1 - confidence`` and ``order`` to the
        order of the endpoints (the schema's other defaults are filled in at load)."""
        plan = self.data["multiplicity"]
        return MultiplicityPlan(
            procedure=plan["procedure"],
            secondary=plan["secondary"],
            alpha=float(plan.get("alpha", round(1.0 - self.confidence, 12))),
            order=tuple(plan.get("order") or (e.id for e in self.endpoints)),
            rationale=str(plan["rationale"]),
        )

    @cached_property
    def comparison(self) -> ComparisonPlan:
        """The modification protocol; empty margins when the protocol names no candidate."""
        plan = self.data.get("comparison")
        if plan is None:
            return ComparisonPlan(
                margins=MappingProxyType({}), by=MappingProxyType({}), rationale=""
            )
        return ComparisonPlan(
            margins=MappingProxyType({k: float(v) for k, v in plan["margins"].items()}),
            by=_frozen_lists(plan["by"]),
            rationale=str(plan["rationale"]),
        )

    def record(self, section: str) -> dict[str, Any]:
        """A copy of the document's top-level ``section`` (defaults filled in), as records
        such as ``results.json`` copy it.

        Raises
        ------
        ProtocolError
            When the protocol has no such section.
        """
        if not isinstance(self.data.get(section), dict):
            raise ProtocolError(
                f"{self.path} has no section {section!r}; its sections are {sorted(self.data)}"
            )
        return copy.deepcopy(self.data[section])

    @property
    def versioned(self) -> bool:
        """True when the protocol names its versions (``models``) rather than one ``model``."""
        return "models" in self.data

    @property
    def released(self) -> ModelVersion:
        """The released version: the comparator of every candidate, and the one surveyed."""
        return next(m for m in self.models if m.released)

    @property
    def candidates(self) -> tuple[ModelVersion, ...]:
        return tuple(m for m in self.models if not m.released)

    def model_version(self, version: str) -> ModelVersion:
        """The locked version named ``version``.

        Raises
        ------
        ProtocolError
            When the protocol names no such version.
        """
        for model in self.models:
            if model.version == version:
                return model
        raise ProtocolError(
            f"{self.path} names no model version {version!r}; its locked versions are "
            f"{[m.version for m in self.models]}"
        )

    @property
    def model_path(self) -> Path:
        """The released version's folder."""
        return self.released.path

    @property
    def model_sha256(self) -> str:
        """The released version's weights sha256."""
        return self.released.sha256

    def judged_goals(self, dimension: str) -> dict[str, Goal]:
        """Metric -> goal of the endpoints judged in every stratum of ``dimension``."""
        ids = set(self.analysis.acceptance_by.get(dimension, ()))
        return {e.metric: e.goal for e in self.endpoints if e.id in ids}


def _frozen_lists(mapping: Mapping[str, Any]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(
        {str(k): tuple(str(v) for v in values) for k, values in mapping.items()}
    )


def load_protocol(path: str | Path) -> Protocol:
    """Load ``protocols/<id>.yaml``, validate it against the schema and hash it.

    Parameters
    ----------
    path : str or Path
        The protocol file.

    Returns
    -------
    Protocol
        With its sha256 (of the file) and every schema default filled in.

    Raises
    ------
    ProtocolError
        Missing file, malformed YAML, schema violations (each with its location), or
        inconsistencies the schema cannot express (duplicate endpoint ids, unsorted bands).
    """
    path = Path(path)
    data = load_yaml(path, error=ProtocolError)
    return build_protocol(data, path=path, sha256=sha256_file(path))


def build_protocol(data: Any, *, path: str | Path, sha256: str) -> Protocol:
    """A :class:`Protocol` from a parsed document: validated, defaults filled in, checked.

    :func:`load_protocol` reads the file and calls this; call it directly to examine a
    document that is not (yet) a file, e.g. a changed copy of a loaded protocol's ``data``.

    Parameters
    ----------
    data : Any
        The parsed YAML document (not changed: the defaults go into a copy).
    path : str or Path
        Where the document comes from (named in messages, and the results folder's stem).
    sha256 : str
        The sha256 recorded for the document (of its file).

    Returns
    -------
    Protocol

    Raises
    ------
    ProtocolError
        As :func:`load_protocol`.
    """
    path = Path(path)
    document = copy.deepcopy(data)
    validate(document, "protocol", source=path, error=ProtocolError, defaults=True)
    ids = [e["id"] for e in document["endpoints"]]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ProtocolError(f"{path}: endpoint ids must be unique, repeated: {duplicated}")
    analysis = document["analysis"]
    for key in ("age_bands", "bmi_bands"):
        cuts = analysis[key]
        if list(cuts) != sorted(set(cuts)):
            raise ProtocolError(f"{path}: analysis.{key} must be strictly increasing, got {cuts}")
    _check_judged(path, "analysis.acceptance_by", analysis["acceptance_by"], ids, analysis)
    _check_outputs(path, document)
    _check_multiplicity(path, document["multiplicity"], ids, float(analysis["confidence"]))
    models = _models(path, document)
    _check_comparison(path, document, ids, models)
    endpoints = tuple(
        Endpoint(
            id=e["id"],
            label=e["label"],
            metric=e["metric"],
            goal=Goal(**e["goal"]),
            primary=e["primary"],
            rationale=e["rationale"],
        )
        for e in document["endpoints"]
    )
    return Protocol(path=path, sha256=sha256, data=document, endpoints=endpoints, models=models)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _concept(value: Mapping[str, Any] | None) -> Concept | None:
    if value is None:
        return None
    version = value.get("version")
    return Concept(
        value=str(value["value"]),
        scheme=str(value["scheme"]),
        meaning=str(value["meaning"]),
        version=None if version is None else str(version),
    )


def _check_outputs(path: Path, document: Mapping[str, Any]) -> None:
    """Each endpoint's metric needs its output (a measurement metric the measurement, a
    classification metric the finding), and each declared output its reference column."""
    outputs, reference = document["outputs"], document["reference_standard"]
    needs = {
        "measurement": ("measurement", "measurement"),
        "classification": ("finding", "label"),
    }
    problems = []
    for e in document["endpoints"]:
        output, _ = needs["measurement" if e["metric"] in MEASUREMENT_METRICS else "classification"]
        if output not in outputs:
            problems.append(f"endpoint {e['id']!r} ({e['metric']}) needs outputs.{output}")
    for output, column in needs.values():
        if output in outputs and column not in reference:
            problems.append(
                f"outputs.{output} is declared, so reference_standard.{column} must name its "
                "reference column"
            )
    low_high = (outputs.get("measurement") or {}).get("range")
    if low_high is not None and not low_high[0] < low_high[1]:
        problems.append(f"outputs.measurement.range must be [low, high], low < high: {low_high}")
    if problems:
        raise ProtocolError(f"{path}: " + "; ".join(problems))


def _check_multiplicity(
    path: Path, plan: Mapping[str, Any], ids: list[str], confidence: float
) -> None:
    """``order`` names known endpoints; an intersection-union family is judged on the
    confidence bound, so the plan's ``alpha`` must be ``1 - confidence`` (the level of that
    bound), see :mod:`validation.analysis.gatekeeping`."""
    unknown = sorted(set(plan.get("order", [])) - set(ids))
    if unknown:
        raise ProtocolError(
            f"{path}: multiplicity.order names unknown endpoint(s) {unknown}; endpoints are {ids}"
        )
    alpha = plan.get("alpha")
    union = "intersection-union" in (plan["procedure"], plan["secondary"])
    if union and alpha is not None and not math.isclose(alpha, 1.0 - confidence, abs_tol=1e-9):
        raise ProtocolError(
            f"{path}: multiplicity.alpha is {alpha:g}, but an intersection-union family judges "
            f"each endpoint on the two-sided {confidence:g} confidence bound "
            f"(analysis.confidence), the one-sided test at (1 - {confidence:g}) / 2: set "
            f"alpha to {1.0 - confidence:g} or leave it out"
        )


def _check_judged(
    path: Path,
    where: str,
    judged: Mapping[str, list[str]],
    ids: list[str],
    analysis: Mapping[str, Any],
) -> None:
    """Each dimension of ``judged`` is a stratum and names only known endpoints."""
    for dimension, named in judged.items():
        unknown = sorted(set(named) - set(ids))
        if unknown:
            raise ProtocolError(
                f"{path}: {where}.{dimension} names unknown endpoint(s) {unknown}; "
                f"endpoints are {ids}"
            )
        if dimension not in analysis["strata"]:
            raise ProtocolError(
                f"{path}: {where} names {dimension!r}, which is not in analysis.strata "
                f"{analysis['strata']}"
            )


def _models(path: Path, data: dict[str, Any]) -> tuple[ModelVersion, ...]:
    """The locked versions: ``models``, or the single ``model`` as the released version (its
    version then named by its folder, ``models/<name>/<version>``)."""
    if ("model" in data) == ("models" in data):
        raise ProtocolError(
            f"{path}: name the locked model either with `model` (a single model) or with "
            "`models` (several versions: one released, any candidates), "
            + ("not both" if "model" in data else "got neither")
        )
    if "model" in data:
        given = [{**data["model"], "version": Path(data["model"]["path"]).name, "role": "released"}]
    else:
        given = data["models"]
    released = [m["version"] for m in given if m["role"] == "released"]
    if len(released) != 1:
        raise ProtocolError(
            f"{path}: models must name exactly one version with role: released (the comparator), "
            f"got {len(released)}{f' ({released})' if released else ''}"
        )
    versions = [m["version"] for m in given]
    repeated = sorted({v for v in versions if versions.count(v) > 1})
    if repeated:
        raise ProtocolError(f"{path}: model versions must be unique, repeated: {repeated}")
    folders = [m["path"] for m in given]
    repeated = sorted({f for f in folders if folders.count(f) > 1})
    if repeated:
        raise ProtocolError(
            f"{path}: each model version needs its own folder, repeated: {repeated}"
        )
    return tuple(
        ModelVersion(version=m["version"], role=m["role"], path=Path(m["path"]), sha256=m["sha256"])
        for m in given
    )


def _check_comparison(
    path: Path, data: dict[str, Any], ids: list[str], models: tuple[ModelVersion, ...]
) -> None:
    comparison = data.get("comparison")
    candidates = [m.version for m in models if not m.released]
    if candidates and comparison is None:
        raise ProtocolError(
            f"{path}: models names candidate version(s) {candidates}, so the protocol needs a "
            "comparison block with a non-inferiority margin for every endpoint"
        )
    if comparison is None:
        return
    if not candidates:
        raise ProtocolError(
            f"{path}: comparison is given but models names no candidate version to compare"
        )
    margins = comparison["margins"]
    unknown = sorted(set(margins) - set(ids))
    missing = [i for i in ids if i not in margins]
    if unknown or missing:
        raise ProtocolError(
            f"{path}: comparison.margins needs exactly one margin per endpoint; "
            + "; ".join(
                part
                for part in (
                    f"unknown endpoint(s) {unknown}" if unknown else "",
                    f"missing {missing}" if missing else "",
                )
                if part
            )
            + f" (endpoints are {ids})"
        )
    _check_judged(path, "comparison.by", comparison["by"], ids, data["analysis"])


def _signed(value: float) -> str:
    """A number as text with a true minus sign (U+2212), as typeset reports print it."""
    return f"{value:g}".replace("-", "\u2212")
