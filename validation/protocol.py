"""The pre-registered validation protocol (statistical analysis plan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Protocol:
    """A loaded, schema-validated protocol with its sha256."""

    path: Path
    sha256: str
    data: dict[str, Any] = field(repr=False)
    endpoints: tuple[Endpoint, ...]
    models: tuple[ModelVersion, ...] = ()

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def stem(self) -> str:
        """The results folder name: the protocol file's stem."""
        return self.path.stem

    @property
    def analysis(self) -> dict[str, Any]:
        return self.data["analysis"]

    @property
    def confidence(self) -> float:
        return float(self.analysis["confidence"])

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

    @property
    def comparison(self) -> dict[str, Any]:
        """The modification protocol: ``margins`` (endpoint id -> margin), ``by`` (dimension ->
        endpoint ids judged per stratum) and ``rationale``; empty margins without candidates."""
        plan = dict(self.data.get("comparison") or {})
        plan.setdefault("margins", {})
        plan.setdefault("by", {})
        plan.setdefault("rationale", "")
        return plan

    @property
    def multiplicity(self) -> dict[str, Any]:
        """The multiplicity plan with its defaults filled in (see the protocol schema)."""
        plan = dict(self.data.get("multiplicity") or {"procedure": "intersection-union"})
        plan.setdefault("secondary", "holm")
        plan.setdefault("alpha", round(1.0 - self.confidence, 12))
        plan.setdefault("order", [e.id for e in self.endpoints])
        return plan

    def judged_goals(self, dimension: str) -> dict[str, Goal]:
        """Metric -> goal of the endpoints judged in every stratum of ``dimension``."""
        ids = set(self.analysis.get("acceptance_by", {}).get(dimension, []))
        return {e.metric: e.goal for e in self.endpoints if e.id in ids}


def load_protocol(path: str | Path) -> Protocol:
    """Load ``protocols/<id>.yaml``, validate it against the schema and hash it.

    Raises
    ------
    ProtocolError
        Missing file, malformed YAML, schema violations (each with its location), or
        inconsistencies the schema cannot express (duplicate endpoint ids, unsorted bands).
    """
    path = Path(path)
    data = load_yaml(path, error=ProtocolError)
    validate(data, "protocol", source=path, error=ProtocolError)
    ids = [e["id"] for e in data["endpoints"]]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ProtocolError(f"{path}: endpoint ids must be unique, repeated: {duplicated}")
    for key in ("age_bands", "bmi_bands"):
        cuts = data["analysis"].get(key)
        if cuts is not None and list(cuts) != sorted(set(cuts)):
            raise ProtocolError(f"{path}: analysis.{key} must be strictly increasing, got {cuts}")
    for dimension, judged in data["analysis"].get("acceptance_by", {}).items():
        unknown = sorted(set(judged) - set(ids))
        if unknown:
            raise ProtocolError(
                f"{path}: analysis.acceptance_by.{dimension} names unknown endpoint(s) {unknown}; "
                f"endpoints are {ids}"
            )
        if dimension not in data["analysis"]["strata"]:
            raise ProtocolError(
                f"{path}: analysis.acceptance_by names {dimension!r}, which is not in "
                f"analysis.strata {data['analysis']['strata']}"
            )
    order = (data.get("multiplicity") or {}).get("order", [])
    unknown = sorted(set(order) - set(ids))
    if unknown:
        raise ProtocolError(
            f"{path}: multiplicity.order names unknown endpoint(s) {unknown}; endpoints are {ids}"
        )
    models = _models(path, data)
    _check_comparison(path, data, ids, models)
    endpoints = tuple(
        Endpoint(
            id=e["id"],
            label=e["label"],
            metric=e["metric"],
            goal=Goal(**e["goal"]),
            primary=e.get("primary", True),
            rationale=e.get("rationale", ""),
        )
        for e in data["endpoints"]
    )
    return Protocol(
        path=path, sha256=sha256_file(path), data=data, endpoints=endpoints, models=models
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
    for dimension, judged in comparison.get("by", {}).items():
        unknown = sorted(set(judged) - set(ids))
        if unknown:
            raise ProtocolError(
                f"{path}: comparison.by.{dimension} names unknown endpoint(s) {unknown}; "
                f"endpoints are {ids}"
            )
        if dimension not in data["analysis"]["strata"]:
            raise ProtocolError(
                f"{path}: comparison.by names {dimension!r}, which is not in analysis.strata "
                f"{data['analysis']['strata']}"
            )


def _signed(value: float) -> str:
    """A number as text with a true minus sign (U+2212), as typeset reports print it."""
    return f"{value:g}".replace("-", "\u2212")
