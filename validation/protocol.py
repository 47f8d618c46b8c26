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
class Protocol:
    """A loaded, schema-validated protocol with its sha256."""

    path: Path
    sha256: str
    data: dict[str, Any] = field(repr=False)
    endpoints: tuple[Endpoint, ...]

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
    def model_path(self) -> Path:
        return Path(self.data["model"]["path"])

    @property
    def model_sha256(self) -> str:
        return self.data["model"]["sha256"]

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
    return Protocol(path=path, sha256=sha256_file(path), data=data, endpoints=endpoints)


def _signed(value: float) -> str:
    """A number as text with a true minus sign (U+2212), as typeset reports print it."""
    return f"{value:g}".replace("-", "\u2212")
