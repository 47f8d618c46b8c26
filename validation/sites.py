"""Clinical sites and their data partitions (one per ultrasound vendor)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from validation.exceptions import ConfigError
from validation.schema import load_yaml, validate

#: The canonical study key of a reference file (a site's ``reference.key`` column, renamed).
STUDY_KEY = "study_instance_uid"


@dataclass(frozen=True)
class Partition:
    """One site × vendor partition: the unit of ingestion and inference.

    ``source_kind`` is ``"folder"`` (files under ``source_path``) or ``"dicomweb"`` (instances
    found by QIDO-RS at ``source_url`` with the query parameters ``study_filter``, fetched into
    a local cache by :func:`validation.ingest.dicomweb.materialize` before they are scanned;
    ``source_path`` is None for such a partition).
    """

    site: str
    vendor: str
    source_kind: str
    source_path: Path | None
    manufacturer_pattern: str | None = None
    source_url: str | None = None
    study_filter: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def key(self) -> str:
        return f"{self.site}/{self.vendor}"

    @property
    def source(self) -> str:
        """The folder or URL the partition's files come from, as text (for manifests, logs)."""
        return self.source_url if self.source_kind == "dicomweb" else str(self.source_path)


def version_at(changes: Sequence[tuple[str, str]], month: str, released: str) -> str:
    """The version running in ``month`` given ``(from month, version)`` entries in month order.

    Before the first entry, or without any, the protocol's ``released`` version runs.

    Examples
    --------
    >>> version_at([("2027-01", "1.1.0")], "2026-12", "1.0.0")
    '1.0.0'
    >>> version_at([("2027-01", "1.1.0")], "2027-01", "1.0.0")
    '1.1.0'
    """
    version = released
    for start, name in changes:
        if start <= month:
            version = name
    return version


@dataclass(frozen=True)
class Deployment:
    """From production month ``start`` (``YYYY-MM``) on, the site runs model ``version``."""

    version: str
    start: str


@dataclass(frozen=True)
class Site:
    """A clinical site of the prospective test cohort.

    ``deployments`` (post-market surveillance) lists the model version the site runs from a
    production month on, in month order; before the first entry, or with none, the site runs
    the protocol's released version (:meth:`version_at`).

    ``reference_key`` is the column of the site's reference file that holds the Study Instance
    UID, and ``reference_columns`` maps a protocol column name to the name the site's file gives
    it (only the columns named differently); :func:`validation.reference.read_reference` reads
    the file with the protocol's names and :data:`STUDY_KEY`.
    """

    id: str
    name: str
    country: str
    partitions: tuple[Partition, ...]
    reference_path: Path
    source_file: Path
    deployments: tuple[Deployment, ...] = ()
    reference_key: str = STUDY_KEY
    reference_columns: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def reference_renames(self) -> dict[str, str]:
        """Site column name -> protocol column name (the key too), for the columns that differ.

        Examples
        --------
        >>> site = Site("s01", "X", "", (), Path("r.csv"), Path("s01.yaml"),
        ...             reference_key="StudyUID", reference_columns={"lvh": "LVH_flag"})
        >>> site.reference_renames
        {'StudyUID': 'study_instance_uid', 'LVH_flag': 'lvh'}
        """
        renames = {self.reference_key: STUDY_KEY}
        renames.update({theirs: ours for ours, theirs in self.reference_columns.items()})
        return {theirs: ours for theirs, ours in renames.items() if theirs != ours}

    def version_at(self, month: str, released: str) -> str:
        """The model version this site runs in production month ``month`` (``YYYY-MM``).

        Examples
        --------
        >>> site = Site("s01", "X", "", (), Path("r.csv"), Path("s01.yaml"),
        ...             (Deployment("1.1.0", "2027-01"),))
        >>> site.version_at("2026-12", "1.0.0"), site.version_at("2027-03", "1.0.0")
        ('1.0.0', '1.1.0')
        """
        return version_at([(d.start, d.version) for d in self.deployments], month, released)

    def version_changes(self, released: str) -> list[tuple[str, str, str]]:
        """``(month, from version, to version)`` of every change of the running version."""
        changes, current = [], released
        for deployment in self.deployments:
            if deployment.version != current:
                changes.append((deployment.start, current, deployment.version))
                current = deployment.version
        return changes

    def partition(self, vendor: str) -> Partition:
        """Return this site's partition for ``vendor``."""
        for partition in self.partitions:
            if partition.vendor == vendor:
                return partition
        known = ", ".join(p.vendor for p in self.partitions)
        raise ConfigError(f"site {self.id!r} has no partition for vendor {vendor!r} (has: {known})")


def load_site(path: str | Path, *, root: str | Path = ".") -> Site:
    """Load and validate ``sites/<site>.yaml``; relative data paths resolve against ``root``."""
    path = Path(path)
    data = load_yaml(path)
    validate(data, "site", source=path, defaults=True)
    expected_id = path.stem
    if data["id"] != expected_id:
        raise ConfigError(f"{path}: id is {data['id']!r} but the file name says {expected_id!r}")
    root = Path(root)
    vendors = [p["vendor"] for p in data["partitions"]]
    duplicated = sorted({v for v in vendors if vendors.count(v) > 1})
    if duplicated:
        raise ConfigError(f"{path}: partitions list vendor(s) {duplicated} more than once")
    partitions = tuple(_partition(data["id"], p, root) for p in data["partitions"])
    deployments = tuple(
        Deployment(version=str(d["version"]), start=str(d["from"])) for d in data["deployments"]
    )
    starts = [d.start for d in deployments]
    if any(later <= earlier for earlier, later in pairwise(starts)):
        raise ConfigError(
            f"{path}: deployments must be in strictly increasing month order (from:), got {starts}"
        )
    reference = data["reference"]
    _check_reference_mapping(path, reference["key"], reference["columns"])
    return Site(
        id=data["id"],
        name=data["name"],
        country=data.get("country", ""),
        partitions=partitions,
        reference_path=root / reference["path"],
        source_file=path,
        deployments=deployments,
        reference_key=reference["key"],
        reference_columns=dict(reference["columns"]),
    )


def _check_reference_mapping(path: Path, key: str, columns: dict[str, str]) -> None:
    """The site's column names must be distinct, and the key is named by ``key`` only."""
    if STUDY_KEY in columns:
        raise ConfigError(
            f"{path}: reference.columns maps {STUDY_KEY!r}; name the site's study key column "
            f"with reference.key instead"
        )
    named = [key, *columns.values()]
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"{path}: reference.key and reference.columns must name distinct columns of the "
            f"site's file, got {repeated} more than once"
        )


def check_deployments(sites: Iterable[Site], versions: Iterable[str]) -> None:
    """Every deployed version must be one the protocol locks.

    Raises
    ------
    ConfigError
        Naming the site file, the version and the protocol's locked versions.
    """
    known = list(versions)
    for site in sites:
        for deployment in site.deployments:
            if deployment.version not in known:
                raise ConfigError(
                    f"{site.source_file}: deployments names model version "
                    f"{deployment.version!r} (from {deployment.start}), which the protocol does "
                    f"not lock; its locked versions are {', '.join(map(repr, known))}"
                )


def _partition(site: str, entry: dict[str, Any], root: Path) -> Partition:
    source = entry["source"]
    common = {
        "site": site,
        "vendor": entry["vendor"],
        "manufacturer_pattern": entry.get("manufacturer_pattern"),
    }
    if source["kind"] == "dicomweb":
        return Partition(
            **common,
            source_kind="dicomweb",
            source_path=None,
            source_url=source["url"].rstrip("/"),
            study_filter={str(k): str(v) for k, v in source["study_filter"].items()},
        )
    return Partition(**common, source_kind="folder", source_path=root / source["path"])


def load_sites(paths: Iterable[str | Path], *, root: str | Path = ".") -> list[Site]:
    """Load several site files, refusing two files with the same site id."""
    sites = [load_site(p, root=root) for p in sorted(Path(p) for p in paths)]
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"site ids are not unique: {ids}")
    if not sites:
        raise ConfigError("no site files were given")
    return sites


def site_files(directory: str | Path) -> list[Path]:
    """The ``*.yaml`` site files in ``directory``, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"sites directory {directory} does not exist")
    return sorted(directory.glob("*.yaml"))
