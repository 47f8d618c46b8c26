"""Path logic of the federated rules (``rules/federated.smk``); the Snakefile only calls these.

Config (``federated:`` in ``config/config.yaml``, validated by the workflow-config schema)::

    federated:
      site: s01                 # at a site: which site this is (target rule federated_site)
      key: keys/s01.key         # the site's private key (default keys/<site>.key)
      keys: sites/keys          # at the centre: registered public keys, <site>.pub
      bundles: inbox            # at the centre: received bundles, <site>.bundle

A site writes ``results/<protocol>/federated/bundles/<site>.bundle``; the coordinating centre
reads ``<bundles>/<site>.bundle`` (default ``results/<protocol>/federated/inbox``) and writes
``results/<protocol>/federated/analysis/`` and ``federated/report/``
(:class:`validation.workflow.FederatedFiles`).
"""

from __future__ import annotations

from typing import Any

from validation import workflow as wf
from validation.exceptions import ConfigError


def settings(config: dict[str, Any]) -> dict[str, Any]:
    """``federated`` of the (filled) config, with the defaults that depend on other keys:
    ``bundles`` the results' inbox; ``key`` stays None (:func:`site_key` says which)."""
    given = config["federated"]
    return {
        "site": given.get("site"),
        "key": given.get("key"),
        "keys": given["keys"],
        "bundles": given.get("bundles") or wf.layout(config).federated.inbox,
    }


def site_key(config: dict[str, Any], site: str) -> str:
    """The site's private key: ``federated.key``, else ``keys/<site>.key``."""
    return settings(config)["key"] or f"keys/{site}.key"


def this_site(config: dict[str, Any]) -> str:
    """``federated.site``: which site this installation is.

    Raises
    ------
    ConfigError
        When it is not set, or names a site without a site file.
    """
    site = settings(config)["site"]
    known = [s.id for s in wf.sites(config)]
    if not site:
        raise ConfigError(
            "federated.site: expected the id of this site (one of "
            f"{', '.join(known)}) to build its bundle, e.g. --config 'federated={{site: s01}}'; "
            "got nothing"
        )
    if site not in known:
        raise ConfigError(f"federated.site: expected one of {', '.join(known)}, got {site!r}")
    return site


def this_site_bundle(config: dict[str, Any]) -> list[str]:
    """The bundle of ``federated.site`` (the target of rule ``federated_site``)."""
    return [wf.layout(config).federated.bundle(this_site(config))]


def site_bundle_inputs(config: dict[str, Any], site: str) -> list[str]:
    """What a site's bundle is made of: its accounting and every version's predictions."""
    layout = wf.layout(config)
    partitions = [(s, v) for s, v in wf.partitions(config) if s == site]
    return [
        *(layout.accounting(s, v) for s, v in partitions),
        *(
            layout.predictions(version, s, v)
            for version in wf.model_versions(config)
            for s, v in partitions
        ),
    ]


def received_bundles(config: dict[str, Any]) -> list[str]:
    """At the centre: ``<bundles>/<site>.bundle`` of every study site."""
    folder = settings(config)["bundles"]
    return [wf.bundle_file(folder, s.id) for s in wf.sites(config)]


def registered_key_files(config: dict[str, Any]) -> list[str]:
    """At the centre: ``<keys>/<site>.pub`` of every study site."""
    folder = settings(config)["keys"]
    return [f"{folder}/{s.id}.pub" for s in wf.sites(config)]


def candidate_analysed(config: dict[str, Any]) -> list[str]:
    """``federated/analysis/versions/<version>/analysed.csv`` of every candidate."""
    analysis = wf.layout(config).federated.analysis
    return [analysis.version_studies(version) for version in wf.candidate_versions(config)]


def report_paths(config: dict[str, Any]) -> list[str]:
    """``federated/report/<kind>.pdf`` of every configured report kind."""
    reports = wf.layout(config).federated.reports
    return [reports.pdf(kind) for kind in config["reports"]]
