"""Site bundles: export one signed file per site, and verify it at the coordinating centre.

Inside the signed envelope (:mod:`validation.federated.envelope`) a bundle's payload is an
uncompressed, deterministic tar archive laid out like the site's ``results/<protocol>/``::

    manifest.json                                  what is inside, with sha256 and row counts
    ingest/<site>/<vendor>/accounting.csv          every received file (paths withheld)
    ingest/<site>/<vendor>/manifest.json           the partition's counts
    predictions/<version>/<site>/<vendor>.csv      one per locked model version and partition
    reference/<site>.csv                           the sealed reference readings
    lock/<protocol>.lock.json                      the protocol's lock record, byte for byte

No image, no DICOM header and no file path leaves the site: see
:mod:`validation.federated.disclosure` for what is kept and why.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from validation import __version__
from validation.exceptions import BundleError
from validation.federated import disclosure
from validation.federated.envelope import (
    EnvelopeError,
    claimed_site,
    open_envelope,
    seal,
    verify_signature,
)
from validation.federated.keys import key_id, load_private_key
from validation.hashing import sha256_bytes, sha256_file
from validation.lock import lock_path, read_lock, verify_lock
from validation.protocol import Protocol, load_protocol
from validation.sites import Site, load_site
from validation.workflow import Layout

FORMAT = "mval-site-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Names inside a bundle: those of the site's ``results/<protocol>/`` folder.
NAMES = Layout("")


def reference_name(site: str) -> str:
    """``reference/<site>.csv``: the site's sealed reference readings inside a bundle."""
    return f"reference/{site}.csv"


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature, lock and content were verified at the coordinating centre.

    Attributes
    ----------
    path : Path
        The bundle file.
    site : str
        The site it comes from (the envelope's, the manifest's and the signer's).
    key_id : str
        sha256 of the public key that signed it (the one registered for ``site``).
    sha256 : str
        sha256 of the whole bundle file.
    manifest : dict
        Its ``manifest.json``.
    members : dict
        ``{path inside the bundle: bytes}`` of every listed file.
    """

    path: Path
    site: str
    key_id: str
    sha256: str
    manifest: dict[str, Any]
    members: dict[str, bytes]


def _csv_bytes(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _read_table(path: Path, what: str, out: Path, site: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise BundleError(
            str(out), site, f"{what} {path} not found: run the site's workflow first"
        ) from None


def _reference_columns(protocol: Protocol) -> tuple[str, ...]:
    named = protocol.reference_standard.columns
    return (*disclosure.REFERENCE_COLUMNS[:1], *named, *disclosure.REFERENCE_COLUMNS[1:])


def allowed_columns(name: str, protocol: Protocol) -> tuple[str, ...] | None:
    """The columns bundle member ``name`` may have (None: not a table)."""
    parts = PurePosixPath(name).parts
    if parts[0] == "ingest" and parts[-1] == "accounting.csv":
        return disclosure.ACCOUNTING_COLUMNS
    if parts[0] == "predictions":
        return disclosure.PREDICTION_COLUMNS
    if parts[0] == "reference":
        return _reference_columns(protocol)
    return None


def export_bundle(
    site_file: str | Path,
    protocol_path: str | Path,
    results: str | Path,
    key: str | Path,
    out: str | Path,
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Write ``site``'s signed bundle from its own workflow outputs under ``results``.

    Parameters
    ----------
    site_file : str or Path
        The site's file, ``sites/<site>.yaml`` (its partitions and sealed reference file).
    protocol_path : str or Path
        The locked protocol; its lock is verified before anything is exported.
    results : str or Path
        The site's ``results/<protocol>`` folder (``ingest/``, ``predictions/``).
    key : str or Path
        The site's private key (``mval keys generate``), mode 0600.
    out : str or Path
        The bundle file to write (e.g. ``results/<protocol>/federated/bundles/<site>.bundle``).
    now : datetime, optional
        Creation time to record (default: the current UTC time).

    Returns
    -------
    dict
        The bundle's manifest.

    Raises
    ------
    LockError, IntegrityError
        The protocol's lock does not verify at the site.
    BundleError
        A missing workflow output, predictions not made by the locked weights, patient keys
        that are not pseudonyms, or content that could carry pixels or identifying headers.
    ConfigError
        A malformed site file or key.
    """
    out = Path(out)
    site = load_site(site_file)
    protocol = load_protocol(protocol_path)
    record = verify_lock(protocol.path)
    private = load_private_key(key)
    results = Path(results)
    members: dict[str, bytes] = {}
    withheld: list[dict[str, str]] = []
    rewritten: list[dict[str, str]] = []
    rows: dict[str, int] = {}

    def add(name: str, data: bytes, n_rows: int | None = None) -> None:
        try:
            disclosure.check_released(name, data, allowed_columns(name, protocol))
        except ValueError as exc:
            raise BundleError(str(out), site.id, str(exc)) from None
        members[name] = data
        if n_rows is not None:
            rows[name] = n_rows

    def release(
        source: Path, what: str, name: str, allowed, renames=None, **options
    ) -> pd.DataFrame:
        """Add the released table; verbatim when nothing in it was withheld, renamed (a site's
        reference columns get the protocol's names) or rewritten."""
        table = _read_table(source, what, out, site.id)
        if renames:
            table = table.rename(columns=renames)
        try:
            released = disclosure.release_table(
                table, name=name, allowed=allowed, site=site.id, **options
            )
        except ValueError as exc:
            raise BundleError(str(out), site.id, str(exc)) from None
        withheld.extend(released.withheld)
        rewritten.extend(released.rewritten)
        unchanged = (
            not renames and released.table.equals(table) and list(released.table) == list(table)
        )
        data = source.read_bytes() if unchanged else _csv_bytes(released.table)
        add(name, data, len(released.table))
        return table

    on_disk = Layout(str(results))
    for partition in site.partitions:
        vendor = partition.vendor
        name = NAMES.accounting(site.id, vendor)
        source = Path(on_disk.accounting(site.id, vendor))
        paths = _placeholders(source, site.id, vendor)
        hide = (partition.source,) if partition.source_kind == "folder" else ()
        release(source, "accounting", name, disclosure.ACCOUNTING_COLUMNS, paths=paths, hide=hide)
        manifest = Path(on_disk.ingest_manifest(site.id, vendor))
        add(NAMES.ingest_manifest(site.id, vendor), _ingest_manifest(manifest, members[name]))
        for model in protocol.models:
            source = Path(on_disk.predictions(model.version, site.id, vendor))
            name = NAMES.predictions(model.version, site.id, vendor)
            what = f"predictions of version {model.version}"
            table = release(
                source, what, name, disclosure.PREDICTION_COLUMNS, paths=paths, hide=hide
            )
            _check_model(table, record.model(model.version), source, out, site.id)
    release(
        site.reference_path,
        "sealed reference file",
        reference_name(site.id),
        _reference_columns(protocol),
        site.reference_renames,
    )
    lock_file = lock_path(protocol.path)
    lock_name = f"lock/{lock_file.name}"
    add(lock_name, lock_file.read_bytes())

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "site": {
            "id": site.id,
            "name": site.name,
            "country": site.country,
            "vendors": [p.vendor for p in site.partitions],
        },
        "protocol": {
            "id": protocol.id,
            "version": protocol.version,
            "file": protocol.path.name,
            "sha256": protocol.sha256,
        },
        "lock": {
            "file": lock_name,
            "sha256": sha256_bytes(members[lock_name]),
            "locked_utc": record.locked_utc,
            "models": [
                {k: m[k] for k in ("version", "role", "model_name", "weights_sha256")}
                for m in record.models
            ],
        },
        "created_utc": (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": {"mval": __version__},
        "signer_key_id": key_id(private),
        "files": [
            {
                "path": name,
                "sha256": sha256_bytes(data),
                "bytes": len(data),
                **({"rows": rows[name]} if name in rows else {}),
            }
            for name, data in sorted(members.items())
        ],
        "withheld": withheld,
        "rewritten": rewritten,
        "not_included": "no images or pixel data, no DICOM headers, no file paths",
    }
    payload = _tar({MANIFEST: (json.dumps(manifest, indent=1) + "\n").encode(), **members})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(seal(payload, site.id, private))
    os.replace(tmp, out)
    return manifest


def _placeholders(accounting: Path, site: str, vendor: str) -> dict[str, str]:
    """``{original path: placeholder}`` of a partition's received files, in accounting order."""
    try:
        table = pd.read_csv(accounting, dtype=str, keep_default_na=False, usecols=["path"])
    except (FileNotFoundError, ValueError):
        return {}  # a missing file is reported when it is released
    return {
        p: disclosure.placeholder(site, vendor, number)
        for number, p in enumerate(table["path"], start=1)
    }


def _ingest_manifest(path: Path, accounting: bytes) -> bytes:
    data = json.loads(path.read_text())
    keep = ("site", "vendor", "received", "included", "excluded", "excluded_by_reason")
    released = {k: data[k] for k in keep if k in data}
    released["source"] = "withheld"
    released["accounting_sha256"] = sha256_bytes(accounting)
    return (json.dumps(released, indent=2) + "\n").encode()


def _check_model(table: pd.DataFrame, entry: dict, source: Path, out: Path, site: str) -> None:
    made_by = sorted(set(table.get("model_sha256", pd.Series(dtype=str))) - {""})
    if made_by and made_by != [entry["weights_sha256"]]:
        raise BundleError(
            str(out),
            site,
            f"{source}: predictions were made by model sha256 {', '.join(made_by)}, but the lock "
            f"records {entry['weights_sha256']} for version {entry['version']}: re-run inference "
            "with the locked model",
        )


def _tar(members: dict[str, bytes]) -> bytes:
    """A deterministic uncompressed tar: sorted names, zero times, owners and modes fixed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(members[name]), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(members[name]))
    return buffer.getvalue()


def _untar(payload: bytes, refuse) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as archive:
            for info in archive:
                name = PurePosixPath(info.name)
                if not info.isfile() or name.is_absolute() or ".." in name.parts:
                    refuse(f"archive member {info.name!r} is not a plain relative file")
                if info.name in members:
                    refuse(f"archive holds {info.name!r} twice")
                members[info.name] = archive.extractfile(info).read()
    except tarfile.TarError as exc:
        refuse(f"payload is not a readable tar archive ({exc})")
    return members


def verify_bundle(
    path: str | Path,
    *,
    protocol_path: str | Path,
    keys: dict[str, Ed25519PublicKey],
    sites: list[Site],
) -> VerifiedBundle:
    """Verify a site bundle at the coordinating centre, before anything in it is used.

    Checks, in order: the signed envelope (:func:`~validation.federated.envelope.open_envelope`);
    that its site is in the study and has a registered key; the signature with that key; that
    the manifest names the same site and lists exactly the archive's files with their sha256;
    that the protocol and lock record are the centre's, byte for byte; that the site's every
    partition and every locked version is there; and that no content could carry pixels or
    identifying data.

    Parameters
    ----------
    path : str or Path
        The bundle file.
    protocol_path : str or Path
        The coordinating centre's locked protocol (its lock record lies beside it).
    keys : dict
        ``{site: public key}`` registered at the centre
        (:func:`~validation.federated.keys.registered_keys`).
    sites : list of Site
        The study's sites (the centre's ``sites/*.yaml``).

    Returns
    -------
    VerifiedBundle

    Raises
    ------
    BundleError
        Naming the bundle, the site and what failed.
    """
    path = Path(path)
    site_id: str | None = None

    def refuse(reason: str):
        raise BundleError(str(path), site_id, reason)

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        refuse("file not found")
    try:
        envelope = open_envelope(data)
    except EnvelopeError as exc:
        site_id = claimed_site(data)
        refuse(str(exc))
    site_id = envelope.site
    study = {s.id: s for s in sites}
    if site_id not in study:
        refuse(f"site {site_id!r} is not in the study (sites: {', '.join(study)})")
    if site_id not in keys:
        refuse(f"no public key is registered for site {site_id} at the coordinating centre")
    owner = next((s for s, k in keys.items() if key_id(k) == envelope.key_id), None)
    try:
        verify_signature(envelope, keys[site_id])
    except EnvelopeError as exc:
        reason = str(exc)
        if owner and owner != site_id:
            reason += f" (that is the key registered for site {owner})"
        refuse(reason)

    members = _untar(envelope.payload, refuse)
    if MANIFEST not in members:
        refuse(f"the archive has no {MANIFEST}")
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        refuse(f"{MANIFEST} is not valid JSON ({exc})")
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        refuse(
            f"{MANIFEST}: expected format {FORMAT} version {FORMAT_VERSION}, got "
            f"{manifest.get('format')} version {manifest.get('format_version')}"
        )
    named = manifest.get("site", {}).get("id")
    if named != site_id:
        refuse(f"{MANIFEST} names site {named!r} but the envelope is signed for {site_id!r}")
    _check_files(manifest, members, refuse)
    protocol = load_protocol(protocol_path)
    _check_lock(manifest, members, protocol, refuse)
    _check_complete(manifest, members, study[site_id], protocol, refuse)
    for name, content in members.items():
        try:
            disclosure.check_released(name, content, allowed_columns(name, protocol))
        except ValueError as exc:
            refuse(str(exc))
    return VerifiedBundle(
        path=path,
        site=site_id,
        key_id=envelope.key_id,
        sha256=sha256_bytes(data),
        manifest=manifest,
        members=members,
    )


def _check_files(manifest: dict, members: dict[str, bytes], refuse) -> None:
    listed = {f["path"]: f for f in manifest.get("files", [])}
    extra, missing = sorted(set(members) - set(listed)), sorted(set(listed) - set(members))
    if extra or missing:
        refuse(f"archive and {MANIFEST} disagree: unlisted files {extra}, missing files {missing}")
    for name, entry in listed.items():
        actual = sha256_bytes(members[name])
        if actual != entry["sha256"]:
            refuse(f"{name} changed: manifest sha256 {entry['sha256']}, file sha256 {actual}")


def _check_lock(manifest: dict, members: dict[str, bytes], protocol: Protocol, refuse) -> None:
    theirs = manifest.get("protocol", {}).get("sha256")
    if theirs != protocol.sha256:
        refuse(
            f"made under protocol sha256 {theirs}, but the coordinating centre's "
            f"{protocol.path} has sha256 {protocol.sha256}"
        )
    ours_path = lock_path(protocol.path)
    read_lock(protocol.path)  # a missing or malformed lock at the centre: LockError
    ours = sha256_file(ours_path)
    lock = manifest.get("lock", {})
    theirs = lock.get("sha256")
    if theirs != ours or lock.get("file") not in members:
        refuse(
            f"made under lock record sha256 {theirs}, but the coordinating centre's "
            f"{ours_path} has sha256 {ours}"
        )


def _check_complete(
    manifest: dict, members: dict[str, bytes], site: Site, protocol: Protocol, refuse
) -> None:
    needed = [reference_name(site.id)]
    for partition in site.partitions:
        needed += [
            NAMES.accounting(site.id, partition.vendor),
            NAMES.ingest_manifest(site.id, partition.vendor),
        ]
        needed += [NAMES.predictions(m.version, site.id, partition.vendor) for m in protocol.models]
    missing = [n for n in needed if n not in members]
    if missing:
        refuse(
            f"incomplete: {', '.join(missing)} missing (the study's site file and protocol "
            "need them)"
        )
    wanted = {n for n in members if n.startswith(("ingest/", "predictions/", "reference/"))}
    unexpected = sorted(wanted - set(needed))
    if unexpected:
        refuse(f"holds files the study does not expect: {', '.join(unexpected)}")
