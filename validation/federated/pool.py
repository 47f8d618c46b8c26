"""Pool verified site bundles at the coordinating centre and run the study's analysis on them.

Every bundle is verified first (:func:`~validation.federated.bundle.verify_bundle`); one bad
bundle stops the pooling before any reference file is opened. The verified files are unpacked
into ``<out>/pooled/`` in the layout of a centralised run, and the centralised analysis
(:func:`validation.analysis.results.analyse`) runs on them unchanged, so the pooled results are
those a centralised run over the same data gives.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from validation.analysis.results import analyse
from validation.exceptions import AnalysisError, BundleError
from validation.federated.bundle import VerifiedBundle, reference_name, verify_bundle
from validation.protocol import load_protocol
from validation.sites import STUDY_KEY, Site
from validation.workflow import AnalysisFiles, FederatedFiles, Layout


@dataclass(frozen=True)
class BundleVerdict:
    """One bundle's verdict at the coordinating centre: verified, or refused with a reason.

    Attributes
    ----------
    path : str
        The bundle file, as given.
    bundle : VerifiedBundle or None
        The verified bundle (None when refused).
    refusal : BundleError or None
        Why it was refused (None when verified).
    """

    path: str
    bundle: VerifiedBundle | None = None
    refusal: BundleError | None = None

    @property
    def site(self) -> str | None:
        return self.bundle.site if self.bundle else self.refusal.site if self.refusal else None

    def record(self) -> dict[str, Any]:
        """``{"bundle", "site", "verdict": "OK" | "REFUSED"[, "reason"]}`` for the audit trail."""
        if self.refusal is not None:
            reason = self.refusal.reason
            return {"bundle": self.path, "site": self.site, "verdict": "REFUSED", "reason": reason}
        return {"bundle": self.path, "site": self.site, "verdict": "OK"}


def check_bundles(
    paths: list[str | Path],
    *,
    protocol_path: str | Path,
    keys: dict[str, Ed25519PublicKey],
    sites: list[Site],
) -> list[BundleVerdict]:
    """Verify every bundle, in order, and refuse a second bundle for a site; never stop early.

    Parameters are those of :func:`verify_all`.

    Returns
    -------
    list of BundleVerdict
        One per path, in the order given.
    """
    verdicts: list[BundleVerdict] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            bundle = verify_bundle(path, protocol_path=protocol_path, keys=keys, sites=sites)
            if bundle.site in seen:
                raise BundleError(
                    str(path),
                    bundle.site,
                    f"a second bundle for site {bundle.site} (the first is {seen[bundle.site]})",
                )
        except BundleError as exc:
            verdicts.append(BundleVerdict(str(path), refusal=exc))
            continue
        seen[bundle.site] = str(path)
        verdicts.append(BundleVerdict(str(path), bundle=bundle))
    return verdicts


def verify_all(
    paths: list[str | Path],
    *,
    protocol_path: str | Path,
    keys: dict[str, Ed25519PublicKey],
    sites: list[Site],
    require_all: bool = True,
) -> list[VerifiedBundle]:
    """Verify every bundle; refuse two bundles for one site and (by default) a missing site.

    Parameters
    ----------
    paths : list of str or Path
        The bundle files.
    protocol_path : str or Path
        The coordinating centre's locked protocol.
    keys : dict
        ``{site: registered public key}``.
    sites : list of Site
        The study's sites.
    require_all : bool, default True
        Refuse to go on unless every study site sent a bundle.

    Returns
    -------
    list of VerifiedBundle
        In the order of the study's sites.

    Raises
    ------
    BundleError
        A refused bundle, or a second bundle for a site.
    AnalysisError
        A study site without a bundle (with ``require_all``), or no bundles at all.
    """
    if not paths:
        raise AnalysisError("bundles: expected one bundle file per site, got none")
    verdicts = check_bundles(paths, protocol_path=protocol_path, keys=keys, sites=sites)
    for verdict in verdicts:
        if verdict.refusal is not None:
            raise verdict.refusal
    verified = {v.bundle.site: v.bundle for v in verdicts if v.bundle is not None}
    missing = [s.id for s in sites if s.id not in verified]
    if missing and require_all:
        raise AnalysisError(
            f"bundles: no bundle from site(s) {', '.join(missing)}; the protocol's analysis "
            "needs every study site"
        )
    return [verified[s.id] for s in sites if s.id in verified]


def unpack(bundles: list[VerifiedBundle], folder: str | Path) -> list[Path]:
    """Write the verified files under ``folder`` in the layout of ``results/<protocol>/``
    (``ingest/``, ``predictions/``, ``reference/``, ``lock/``); return the paths written."""
    folder = Path(folder)
    written = []
    for bundle in bundles:
        for name, data in sorted(bundle.members.items()):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            written.append(target)
    return written


def pool_bundles(
    paths: list[str | Path],
    *,
    protocol_path: str | Path,
    keys: dict[str, Ed25519PublicKey],
    sites: list[Site],
    out: str | Path,
    accounting_out: str | Path | None = None,
) -> dict[str, Any]:
    """Verify, unpack and analyse the sites' bundles like a centralised run.

    Parameters
    ----------
    paths : list of str or Path
        One bundle per study site.
    protocol_path : str or Path
        The coordinating centre's locked protocol.
    keys : dict
        ``{site: registered public key}``.
    sites : list of Site
        The study's sites (their reference files are replaced by the bundles').
    out : str or Path
        The analysis folder: ``results.json``, ``analysed.csv``, ``manifest.json``,
        ``versions/<version>/analysed.csv`` and ``bundles.json``; the unpacked files go to
        ``<out>/../pooled``.
    accounting_out : str or Path, optional
        Where to write the merged accounting of all partitions.

    Returns
    -------
    dict
        The results (as written to ``results.json``).

    Raises
    ------
    BundleError, AnalysisError, LockError
        As :func:`verify_all` and :func:`validation.analysis.results.analyse`.
    """
    bundles = verify_all(paths, protocol_path=protocol_path, keys=keys, sites=sites)
    out = Path(out)
    pooled = Path(FederatedFiles(str(out.parent)).pooled)
    unpack(bundles, pooled)
    unpacked = Layout(str(pooled))
    protocol = load_protocol(protocol_path)
    sent = {b.site for b in bundles}
    pooled_sites = [
        # a bundle's reference file has the protocol's column names (the site's mapping applied)
        dataclasses.replace(
            s,
            reference_path=pooled / reference_name(s.id),
            reference_key=STUDY_KEY,
            reference_columns={},
        )
        for s in sites
        if s.id in sent
    ]
    # the order of a centralised run: sites sorted, each site's partitions as its file lists them
    partitions = [(s.id, p.vendor) for s in pooled_sites for p in s.partitions]

    def predictions(version: str) -> list[Path]:
        return [Path(unpacked.predictions(version, site, vendor)) for site, vendor in partitions]

    record = [
        {
            "site": b.site,
            "bundle": b.path.as_posix(),
            "sha256": b.sha256,
            "signer_key_id": b.key_id,
            "created_utc": b.manifest.get("created_utc"),
            "files": len(b.members),
            "withheld": b.manifest.get("withheld", []),
        }
        for b in bundles
    ]
    results = analyse(
        protocol,
        pooled_sites,
        [Path(unpacked.accounting(site, vendor)) for site, vendor in partitions],
        predictions(protocol.released.version),
        out,
        candidates={m.version: predictions(m.version) for m in protocol.candidates},
        accounting_out=accounting_out,
        require_lock=True,
        bundles=record,
    )
    record_file = Path(AnalysisFiles(str(out)).bundles)
    record_file.write_text(json.dumps({"bundles": record}, indent=2) + "\n")
    return results
