"""Path logic for the Snakemake workflow: which partitions exist and where each stage writes.

The Snakefile only calls these functions, so the layout under ``results/<protocol>/`` (a public
interface, see the README) is defined once, here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from validation.schema import validate
from validation.sites import Site, load_sites, site_files

if TYPE_CHECKING:
    from validation.model.card import ModelCard
    from validation.protocol import Protocol

T = TypeVar("T")

#: parsed and validated files, keyed by what they are, their resolved paths and contents:
#: Snakemake calls the input functions once per job, and re-parsing and re-validating the
#: protocol, the model cards and every site file for each of thousands of jobs dominated the
#: planning time (reading and hashing the bytes is about a hundred times cheaper than that)
_PARSED: dict[tuple[Any, ...], Any] = {}


def _stamp(path: Path) -> tuple[str, str]:
    """A file's resolved path and a digest of its content (empty when it cannot be read)."""
    try:
        digest = hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()
    except OSError:
        digest = ""
    return (str(path.resolve()), digest)


def _cached(kind: str, paths: list[Path], load: Callable[[], T]) -> T:
    """``load()``, run once per content of ``paths``: an edited file is read again.

    Errors are not cached: a missing or broken file raises on every call, as it did uncached.
    """
    key = (kind, *(_stamp(p) for p in paths))
    if key not in _PARSED:
        _PARSED[key] = load()
    return _PARSED[key]


def check_config(config: dict[str, Any], source: str = "workflow config") -> None:
    """Type the config's command-line values, then validate it against its schema.

    Snakemake hands nested ``--config 'demo={n_studies: 48}'`` values over as strings; they are
    read as YAML scalars (``'48'`` becomes 48, ``'true'`` True) in place before validation
    against ``validation/schemas/workflow-config.schema.json``.
    """
    config.update(_typed(config))
    validate(config, "workflow-config", source=source)


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if isinstance(parsed, bool | int | float) else value
    return value


def protocol_stem(config: dict[str, Any]) -> str:
    """``<protocol>`` in ``results/<protocol>/``: the protocol file's stem."""
    return Path(config["protocol"]).stem


def results_dir(config: dict[str, Any]) -> str:
    return f"{config.get('results', 'results')}/{protocol_stem(config)}"


def sites(config: dict[str, Any]) -> list[Site]:
    """The sites of ``config["sites"]``, read and validated once per state of their files."""
    files = site_files(config["sites"])
    return list(_cached("sites", files, lambda: load_sites(files)))


def _protocol(config: dict[str, Any]) -> Protocol:
    """The config's protocol, read and validated once per state of the file."""
    from validation.protocol import load_protocol

    path = Path(config["protocol"])
    return _cached("protocol", [path], lambda: load_protocol(path))


def _card(model_dir: Path) -> ModelCard:
    """A model version's card, read and validated once per state of the file."""
    from validation.model.card import CARD_NAME, read_card

    return _cached("card", [model_dir / CARD_NAME], lambda: read_card(model_dir))


def partitions(config: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (site, vendor) partition, in a stable order."""
    return [(p.site, p.vendor) for s in sites(config) for p in s.partitions]


def site_file(config: dict[str, Any], site: str) -> str:
    return f"{config['sites']}/{site}.yaml"


def accounting_path(config: dict[str, Any], site: str, vendor: str) -> str:
    return f"{results_dir(config)}/ingest/{site}/{vendor}/accounting.csv"


def model_versions(config: dict[str, Any]) -> list[str]:
    """The protocol's locked model versions, the released one first."""
    protocol = _protocol(config)
    return [protocol.released.version, *(m.version for m in protocol.candidates)]


def released_version(config: dict[str, Any]) -> str:
    return model_versions(config)[0]


def candidate_versions(config: dict[str, Any]) -> list[str]:
    return model_versions(config)[1:]


def predictions_path(
    config: dict[str, Any], site: str, vendor: str, version: str | None = None
) -> str:
    """``predictions/<version>/<site>/<vendor>.csv`` (default: the released version's)."""
    version = version or released_version(config)
    return f"{results_dir(config)}/predictions/{version}/{site}/{vendor}.csv"


def all_accounting(config: dict[str, Any]) -> list[str]:
    return [accounting_path(config, s, v) for s, v in partitions(config)]


def all_predictions(config: dict[str, Any], version: str | None = None) -> list[str]:
    """Every partition's predictions by ``version`` (default: the released one)."""
    return [predictions_path(config, s, v, version) for s, v in partitions(config)]


def all_candidate_predictions(config: dict[str, Any]) -> list[str]:
    """Every partition's predictions by every candidate version (one job each)."""
    return [p for version in candidate_versions(config) for p in all_predictions(config, version)]


def candidate_options(config: dict[str, Any]) -> str:
    """``--candidate <version> <predictions...>`` per candidate, for ``mval analyze``."""
    return " ".join(
        f"--candidate {version} {' '.join(all_predictions(config, version))}"
        for version in candidate_versions(config)
    )


def candidate_analysed(config: dict[str, Any]) -> list[str]:
    """``analysis/versions/<version>/analysed.csv`` of every candidate."""
    return [
        f"{results_dir(config)}/analysis/versions/{version}/analysed.csv"
        for version in candidate_versions(config)
    ]


def all_sr_indexes(config: dict[str, Any]) -> list[str]:
    """One DICOM SR folder per partition (its ``index.csv`` marks it complete)."""
    return [f"{results_dir(config)}/sr/{s}/{v}/index.csv" for s, v in partitions(config)]


def stow_option(config: dict[str, Any], site: str, vendor: str) -> str:
    """``--stow URL`` for a DICOMweb partition when ``dicomweb.return_results`` is on."""
    if not config.get("dicomweb", {}).get("return_results", False):
        return ""
    partition = next(s for s in sites(config) if s.id == site).partition(vendor)
    return f"--stow {partition.source_url}" if partition.source_kind == "dicomweb" else ""


def parent(path: str) -> str:
    """The folder of an output path (stages take folders, Snakemake declares files)."""
    return str(Path(path).parent)


def demo_enabled(config: dict[str, Any]) -> bool:
    return bool(config.get("demo", {}).get("enabled", False))


def demo_marker_path(config: dict[str, Any]) -> str:
    """The demo generator's summary file: written last, so it marks a complete demo study."""
    return f"{config.get('demo', {}).get('out', 'data/demo')}/demo-summary.json"


def demo_inputs(config: dict[str, Any]) -> list[str]:
    """Ingestion waits for the demo study when the demo is enabled; otherwise for nothing."""
    return [demo_marker_path(config)] if demo_enabled(config) else []


def model_files(config: dict[str, Any], version: str | None = None) -> list[str]:
    """A locked version's model card and weights (default: the released version's):
    inference re-runs when either changes."""
    from validation.model.card import CARD_NAME

    protocol = _protocol(config)
    model_dir = (protocol.model_version(version) if version else protocol.released).path
    return [str(model_dir / CARD_NAME), str(model_dir / _card(Path(model_dir)).weights)]


def all_model_files(config: dict[str, Any]) -> list[str]:
    """Model card and weights of every locked version."""
    return [path for version in model_versions(config) for path in model_files(config, version)]


def report_paths(config: dict[str, Any]) -> list[str]:
    return [f"{results_dir(config)}/report/{kind}.pdf" for kind in config.get("reports", ["510k"])]


def audit_path(config: dict[str, Any]) -> str:
    """The run's append-only audit trail: ``results/<protocol>/audit.jsonl``."""
    return f"{results_dir(config)}/audit.jsonl"


def lock_required(config: dict[str, Any]) -> bool:
    return bool(config.get("lock", {}).get("required", True))


def draft_flag(config: dict[str, Any]) -> str:
    """``--allow-unlocked`` when the config lets the run go on without a valid lock (DRAFT)."""
    return "" if lock_required(config) else "--allow-unlocked"


def lock_inputs(config: dict[str, Any]) -> list[str]:
    """The model files and the protocol's lock record, when one exists (if not, the lock check
    itself stops a run that requires one, with a message saying how to lock)."""
    from validation.lock import lock_path

    record = lock_path(config["protocol"])
    return [*all_model_files(config), *([str(record)] if record.exists() else [])]


def postmarket_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``demo.postmarket`` and ``demo.seed`` with defaults for every missing key.

    ``snakemake --config 'demo={...}'`` may hand over a ``demo`` mapping without these keys;
    the defaults are those of :class:`validation.demo.postmarket.PostmarketSettings` (12 months,
    10 studies per partition and month, a quarter audited, the s02 x GE upgrade in month 7).
    ``shift`` is a :class:`~validation.demo.postmarket.Shift` or None (``null``, also as text).

    Raises
    ------
    ConfigError
        A value out of range, or a shift month after the last month.
    """
    from validation.demo.postmarket import DEFAULT_SHIFT, PostmarketSettings, parse_shift

    demo = config.get("demo") or {}
    given = demo.get("postmarket") or {}
    defaults = PostmarketSettings()
    settings = PostmarketSettings(
        months=given.get("months", defaults.months),
        studies_per_month=given.get("studies_per_month", defaults.studies_per_month),
        audit_fraction=given.get("audit_fraction", defaults.audit_fraction),
        seed=demo.get("seed", defaults.seed),
        shift=parse_shift(given["shift"]) if "shift" in given else DEFAULT_SHIFT,
    )
    return {
        "months": settings.months,
        "studies_per_month": settings.studies_per_month,
        "audit_fraction": settings.audit_fraction,
        "seed": settings.seed,
        "shift": settings.shift,
    }


def postmarket_shift_option(config: dict[str, Any]) -> str:
    """``--shift '<json>'`` for the configured shift, or ``--no-shift``."""
    import dataclasses
    import json
    import shlex

    shift = postmarket_settings(config)["shift"]
    if shift is None:
        return "--no-shift"
    return f"--shift {shlex.quote(json.dumps(dataclasses.asdict(shift)))}"


def postmarket_dir(config: dict[str, Any]) -> str:
    """Where the post-market demo writes: ``<demo.out>/postmarket``."""
    return f"{(config.get('demo') or {}).get('out', 'data/demo')}/postmarket"


def postmarket_marker_path(config: dict[str, Any]) -> str:
    """The post-market demo's ``scenario.json``: written last, so it marks a complete run."""
    return f"{postmarket_dir(config)}/scenario.json"


def postmarket_inputs(config: dict[str, Any]) -> list[str]:
    """Surveillance waits for the post-market demo when the demo is enabled; else for nothing."""
    return [postmarket_marker_path(config)] if demo_enabled(config) else []


def postmarket_months(config: dict[str, Any]) -> list[str]:
    """``YYYY-MM`` of the post-market demo's months, in order."""
    from validation.demo.postmarket import month_labels

    return month_labels(postmarket_settings(config)["months"])


def surveillance_dir(config: dict[str, Any]) -> str:
    """``results/<protocol>/surveillance``: the baseline, signals, alerts and report."""
    return f"{results_dir(config)}/surveillance"


def surveillance_source(config: dict[str, Any]) -> str:
    """Folder of the monthly production batches: ``surveillance.source``, else the demo's."""
    given = (config.get("surveillance") or {}).get("source")
    return given or f"{postmarket_dir(config)}/batches"


def surveillance_labels(config: dict[str, Any]) -> str:
    """Folder of the late labels: ``surveillance.labels``, else the demo's."""
    given = (config.get("surveillance") or {}).get("labels")
    return given or f"{postmarket_dir(config)}/labels"


def surveillance_months(config: dict[str, Any]) -> list[str]:
    """The months to process: the demo's when it is enabled, else the ``YYYY-MM`` folders of
    the batch source (sorted)."""
    import re

    if demo_enabled(config):
        return postmarket_months(config)
    source = Path(surveillance_source(config))
    if not source.is_dir():
        return []
    pattern = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
    return sorted(p.name for p in source.iterdir() if p.is_dir() and pattern.match(p.name))


def surveillance_batch_path(config: dict[str, Any], month: str) -> str:
    """``batch.csv`` of a processed month (``mval monitor batch``)."""
    return f"{surveillance_dir(config)}/batches/{month}/batch.csv"


def all_surveillance_batches(config: dict[str, Any]) -> list[str]:
    return [surveillance_batch_path(config, month) for month in surveillance_months(config)]


def surveillance_options(config: dict[str, Any]) -> str:
    """The ``mval monitor run`` options set in the config's ``surveillance`` block."""
    given = config.get("surveillance") or {}
    names = ("familywise_alpha", "arl0_months", "horizon_months", "min_shift_mm")
    names += ("min_rate_change", "bias_weight", "label_delay_months")
    return " ".join(f"--{name.replace('_', '-')} {given[name]}" for name in names if name in given)


def all_site_files(config: dict[str, Any]) -> list[str]:
    """Every site file (``sites/<id>.yaml``): a changed ``deployments`` list re-runs the
    surveillance jobs that depend on it."""
    return [str(path) for path in site_files(config["sites"])]
