"""Clinical sites and their data partitions (one per ultrasound vendor)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from validation.exceptions import ConfigError
from validation.schema import load_yaml, validate


@dataclass(frozen=True)
class Partition:
    """One site × vendor partition: the unit of ingestion and inference."""

    site: str
    vendor: str
    source_kind: str
    source_path: Path
    manufacturer_pattern: str | None = None

    @property
    def key(self) -> str:
        return f"{self.site}/{self.vendor}"


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
    partitions = tuple(
        Partition(
            site=data["id"],
            vendor=p["vendor"],
            source_kind=p["source"]["kind"],
            source_path=root / p["source"]["path"],
            manufacturer_pattern=p.get("manufacturer_pattern"),
        )
        for p in data["partitions"]
    )
    return Site(
        id=data["id"],
        name=data["name"],
        country=data.get("country", ""),
        partitions=partitions,
        reference_path=root / data["reference"]["path"],
        source_file=path,
    )


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
