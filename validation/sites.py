"""Clinical sites and their data partitions (one per ultrasound vendor)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validation.exceptions import ConfigError
from validation.schema import load_yaml, validate


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


@dataclass(frozen=True)
class Site:
    """A clinical site of the prospective test cohort."""

    id: str
    name: str
    country: str
    partitions: tuple[Partition, ...]
    reference_path: Path
    source_file: Path

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
    validate(data, "site", source=path)
    expected_id = path.stem
    if data["id"] != expected_id:
        raise ConfigError(f"{path}: id is {data['id']!r} but the file name says {expected_id!r}")
    root = Path(root)
    vendors = [p["vendor"] for p in data["partitions"]]
    duplicated = sorted({v for v in vendors if vendors.count(v) > 1})
    if duplicated:
        raise ConfigError(f"{path}: partitions list vendor(s) {duplicated} more than once")
    partitions = tuple(_partition(data["id"], p, root) for p in data["partitions"])
    return Site(
        id=data["id"],
        name=data["name"],
        country=data.get("country", ""),
        partitions=partitions,
        reference_path=root / data["reference"]["path"],
        source_file=path,
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
            study_filter={str(k): str(v) for k, v in source.get("study_filter", {}).items()},
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
