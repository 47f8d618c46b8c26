"""Path logic for the Snakemake workflow: which partitions exist and where each stage writes.

The layout under ``results/<protocol>/`` (a public interface, see the README) is defined once,
here, by :class:`Layout`; the rules, the federated bundles and the command line take every path
from it. The workflow config is read with its defaults filled in from its schema
(:func:`check_config`), so no default of it is written anywhere else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from validation.schema import load_schema, validate
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
    parsed: T = _PARSED[key]
    return parsed


def check_config(config: dict[str, Any], source: str = "workflow config") -> None:
    """Type the config's command-line values, validate it and fill in its defaults, in place.

    Snakemake hands nested ``--config 'demo={n_studies: 48}'`` values over as strings; they are
    read as YAML scalars (``'48'`` becomes 48, ``'true'`` True) before validation against
    ``validation/schemas/workflow-config.schema.json``. Every key the config leaves out that
    has a ``default`` in that schema is then set to it, in nested blocks too: the schema is the
    one place a default of the config is written, and the rules and functions here read the
    filled config.

    Parameters
    ----------
    config : dict
        The config as Snakemake loaded it (``configfile:`` plus ``--config``).
    source : str, default "workflow config"
        What to call it in error messages.

    Raises
    ------
    ConfigError
        Naming every value that does not match the schema.

    Examples
    --------
    >>> config = {"protocol": "protocols/demo.yaml", "sites": "sites", "demo": {"enabled": "true"}}
    >>> check_config(config)
    >>> config["results"], config["demo"]["enabled"], config["demo"]["n_studies"]
    ('results', True, 600)
    """
    config.update(_typed(config))
    validate(config, "workflow-config", source=source, defaults=True)


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
    """``results/<protocol>``: where a run writes (config ``results``, the protocol's stem)."""
    return f"{config['results']}/{protocol_stem(config)}"


def layout(config: dict[str, Any]) -> Layout:
    """The :class:`Layout` of the config's ``results/<protocol>/``."""
    return Layout(results_dir(config))


#: The evidence reports' kinds (the config's ``reports``, the report rules' ``{kind}``).
REPORT_KINDS: tuple[str, ...] = tuple(
    load_schema("workflow-config")["properties"]["reports"]["items"]["enum"]
)

#: Snakemake wildcards: a layout path built with them is a rule's pattern, one job per value.
SITE, VENDOR, VERSION, KIND, MONTH = "{site}", "{vendor}", "{version}", "{kind}", "{month}"

#: Every rule's log, under ``logs/``, by rule name (patterns in the rule's wildcards).
LOGS = {
    "demo": "demo.log",
    "postmarket_demo": "postmarket-demo.log",
    "study_check": "study-check.log",
    "lock_check": "lock-check.log",
    "ingest": f"ingest/{SITE}/{VENDOR}.log",
    "infer": f"infer/{VERSION}/{SITE}/{VENDOR}.log",
    "analyze": "analyze.log",
    "report": f"report-{KIND}.log",
    "sr": f"sr/{SITE}/{VENDOR}.log",
    "monitor_batch": f"surveillance/batch-{MONTH}.log",
    "surveillance": "surveillance/run.log",
    "site_bundle": f"federated/bundle-{SITE}.log",
    "federated_pool": "federated/pool.log",
    "federated_report": f"federated/report-{KIND}.log",
}

#: A site bundle's file name ends so: ``<site>.bundle``.
BUNDLE_SUFFIX = ".bundle"


def bundle_file(folder: str, site: str = SITE) -> str:
    """``<folder>/<site>.bundle``: a site's bundle in an outbox or an inbox."""
    return f"{folder}/{site}{BUNDLE_SUFFIX}"


@dataclass(frozen=True)
class AnalysisFiles:
    """The files of an analysis folder: a run's ``analysis/`` or a pooling's.

    Attributes
    ----------
    folder : str
        The folder ``mval analyze`` (or ``mval bundle pool``) writes to.
    accounting : str, optional
        Where the merged accounting of all partitions goes (``mval analyze --accounting-out``).
    """

    folder: str
    accounting: str | None = None

    @property
    def results(self) -> str:
        """``results.json``: every estimate, verdict and hash."""
        return f"{self.folder}/results.json"

    @property
    def studies(self) -> str:
        """``analysed.csv``: one row per analysed study."""
        return f"{self.folder}/analysed.csv"

    @property
    def manifest(self) -> str:
        """``manifest.json``: the hashes of the analysis' inputs."""
        return f"{self.folder}/manifest.json"

    @property
    def bundles(self) -> str:
        """``bundles.json`` (a pooling only): which site bundles were pooled."""
        return f"{self.folder}/bundles.json"

    def version_studies(self, version: str = VERSION) -> str:
        """``versions/<version>/analysed.csv``: a candidate version's studies."""
        return f"{self.folder}/versions/{version}/analysed.csv"


@dataclass(frozen=True)
class ReportFiles:
    """The evidence reports in ``folder``: ``<kind>.pdf`` with ``<kind>.html`` beside it."""

    folder: str

    def pdf(self, kind: str = KIND) -> str:
        """``<kind>.pdf``: the signed document."""
        return f"{self.folder}/{kind}.pdf"

    def html(self, kind: str = KIND) -> str:
        """``<kind>.html``: the same report as HTML."""
        return f"{self.folder}/{kind}.html"


@dataclass(frozen=True)
class SurveillanceFiles:
    """``surveillance/``: the processed months, signals, alerts and the surveillance report."""

    folder: str

    @property
    def batches(self) -> str:
        """``batches/``: one folder per processed month (``mval monitor batch``)."""
        return f"{self.folder}/batches"

    def batch(self, month: str = MONTH) -> str:
        """``batches/<month>/batch.csv``: one row per file received that month."""
        return f"{self.batches}/{month}/batch.csv"

    def batch_summary(self, month: str = MONTH) -> str:
        """``batches/<month>/batch.json``: the month's models and counts."""
        return f"{self.batches}/{month}/batch.json"

    @property
    def baseline(self) -> str:
        """``baseline.json``: the validation baseline, frozen on the first run."""
        return f"{self.folder}/baseline.json"

    @property
    def signals(self) -> str:
        """``signals.csv``: every signal of every segment and month."""
        return f"{self.folder}/signals.csv"

    @property
    def alerts(self) -> str:
        """``alerts.json``: the alarms, one episode each."""
        return f"{self.folder}/alerts.json"

    @property
    def record(self) -> str:
        """``surveillance.json``: everything the surveillance report shows."""
        return f"{self.folder}/surveillance.json"

    @property
    def report_pdf(self) -> str:
        """``surveillance-report.pdf``: the surveillance report."""
        return f"{self.folder}/surveillance-report.pdf"

    @property
    def report_html(self) -> str:
        """``surveillance-report.html``: the same report as HTML."""
        return f"{self.folder}/surveillance-report.html"


@dataclass(frozen=True)
class FederatedFiles:
    """``federated/``: a site's outgoing bundles, and the centre's inbox, pooling and reports."""

    folder: str

    def bundle(self, site: str = SITE) -> str:
        """``bundles/<site>.bundle``: the bundle a site exports."""
        return bundle_file(f"{self.folder}/bundles", site)

    @property
    def inbox(self) -> str:
        """``inbox/``: where the centre receives bundles (unless ``federated.bundles`` says)."""
        return f"{self.folder}/inbox"

    @property
    def analysis(self) -> AnalysisFiles:
        """``analysis/``: the pooled analysis, with its merged ``accounting.csv`` inside."""
        folder = f"{self.folder}/analysis"
        return AnalysisFiles(folder, accounting=f"{folder}/accounting.csv")

    @property
    def pooled(self) -> str:
        """``pooled/``: the verified bundles unpacked in the layout of ``results/<protocol>/``."""
        return f"{self.folder}/pooled"

    @property
    def reports(self) -> ReportFiles:
        """``report/``: the evidence reports of the pooled analysis."""
        return ReportFiles(f"{self.folder}/report")


@dataclass(frozen=True)
class Layout:
    """Where every stage writes under ``root`` (``results/<protocol>``).

    Paths are text in the config's spelling (Snakemake matches outputs as text). A method's
    wildcard arguments default to Snakemake wildcards, so ``Layout(root).accounting()`` is the
    ingest rule's pattern and ``accounting("s01", "GE")`` one partition's file. With an empty
    ``root`` the paths are relative to a ``results/<protocol>/`` folder (the names inside a
    site bundle).

    Examples
    --------
    >>> Layout("results/demo").predictions("1.0.0", "s01", "GE")
    'results/demo/predictions/1.0.0/s01/GE.csv'
    >>> Layout("").accounting()
    'ingest/{site}/{vendor}/accounting.csv'
    """

    root: str

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}" if self.root else name

    @property
    def audit(self) -> str:
        """``audit.jsonl``: the run's append-only, hash-chained audit trail."""
        return self._path("audit.jsonl")

    @property
    def study_check(self) -> str:
        """``study-check.json``: the record of ``mval study check``, which ingestion waits for."""
        return self._path("study-check.json")

    @property
    def lock_status(self) -> str:
        """``lock/lock-status.json``: the lock check every inference waits for."""
        return self._path("lock/lock-status.json")

    def ingest(self, site: str = SITE, vendor: str = VENDOR) -> str:
        """``ingest/<site>/<vendor>``: a partition's ingest folder."""
        return self._path(f"ingest/{site}/{vendor}")

    def accounting(self, site: str = SITE, vendor: str = VENDOR) -> str:
        """``ingest/<site>/<vendor>/accounting.csv``: every file the partition received."""
        return f"{self.ingest(site, vendor)}/accounting.csv"

    def ingest_manifest(self, site: str = SITE, vendor: str = VENDOR) -> str:
        """``ingest/<site>/<vendor>/manifest.json``: the partition's counts."""
        return f"{self.ingest(site, vendor)}/manifest.json"

    def predictions(self, version: str = VERSION, site: str = SITE, vendor: str = VENDOR) -> str:
        """``predictions/<version>/<site>/<vendor>.csv``: one locked version on one partition."""
        return self._path(f"predictions/{version}/{site}/{vendor}.csv")

    def sr_index(self, site: str = SITE, vendor: str = VENDOR) -> str:
        """``sr/<site>/<vendor>/index.csv``: a partition's DICOM SRs, complete when it exists."""
        return self._path(f"sr/{site}/{vendor}/index.csv")

    @property
    def analysis(self) -> AnalysisFiles:
        """``analysis/`` (its merged accounting is ``ingest/accounting.csv``)."""
        return AnalysisFiles(self._path("analysis"), accounting=self.merged_accounting())

    def merged_accounting(self) -> str:
        """``ingest/accounting.csv``: the accounting of every partition, merged by the analysis."""
        return self._path("ingest/accounting.csv")

    @property
    def reports(self) -> ReportFiles:
        """``report/<kind>.pdf`` and ``.html``: the evidence reports."""
        return ReportFiles(self._path("report"))

    @property
    def surveillance(self) -> SurveillanceFiles:
        """``surveillance/``: post-market surveillance."""
        return SurveillanceFiles(self._path("surveillance"))

    @property
    def federated(self) -> FederatedFiles:
        """``federated/``: federated mode, at a site and at the coordinating centre."""
        return FederatedFiles(self._path("federated"))

    def log(self, rule: str) -> str:
        """``logs/...``: the log of ``rule`` (see :data:`LOGS`)."""
        return self._path(f"logs/{LOGS[rule]}")


# A rule's params that name a folder derive it from the rule's own inputs or outputs (so
# `snakemake --lint` sees no hard-coded prefix), with these:


def results_of(lock_status: str) -> str:
    """``results/<protocol>`` from the path of its :attr:`Layout.lock_status`."""
    depth = len(Path(Layout("").lock_status).parts)
    return str(Path(lock_status).parents[depth - 1])


def surveillance_files(alerts: str) -> SurveillanceFiles:
    """The :class:`SurveillanceFiles` whose :attr:`~SurveillanceFiles.alerts` is ``alerts``."""
    return SurveillanceFiles(parent(alerts))


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
    """``ingest/<site>/<vendor>/accounting.csv`` of one partition."""
    return layout(config).accounting(site, vendor)


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
    return layout(config).predictions(version or released_version(config), site, vendor)


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
    analysis = layout(config).analysis
    return [analysis.version_studies(version) for version in candidate_versions(config)]


def all_sr_indexes(config: dict[str, Any]) -> list[str]:
    """One DICOM SR folder per partition (its ``index.csv`` marks it complete)."""
    return [layout(config).sr_index(s, v) for s, v in partitions(config)]


def stow_option(config: dict[str, Any], site: str, vendor: str) -> str:
    """``--stow URL`` for a DICOMweb partition when ``dicomweb.return_results`` is on."""
    if not config["dicomweb"]["return_results"]:
        return ""
    partition = next(s for s in sites(config) if s.id == site).partition(vendor)
    return f"--stow {partition.source_url}" if partition.source_kind == "dicomweb" else ""


def parent(path: str) -> str:
    """The folder of an output path (stages take folders, Snakemake declares files)."""
    return str(Path(path).parent)


def demo_enabled(config: dict[str, Any]) -> bool:
    return bool(config["demo"]["enabled"])


def demo_marker_path(config: dict[str, Any]) -> str:
    """The demo generator's summary file: written last, so it marks a complete demo study."""
    return f"{config['demo']['out']}/demo-summary.json"


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


def model_cards(config: dict[str, Any]) -> list[str]:
    """The model card of every locked version: ingestion reads their image rules (inputs), so
    it re-runs when one changes."""
    from validation.model.card import CARD_NAME

    protocol = _protocol(config)
    return [str(version.path / CARD_NAME) for version in protocol.models]


def report_paths(config: dict[str, Any]) -> list[str]:
    """``report/<kind>.pdf`` of every configured report kind."""
    reports = layout(config).reports
    return [reports.pdf(kind) for kind in config["reports"]]


def audit_path(config: dict[str, Any]) -> str:
    """The run's append-only audit trail: ``results/<protocol>/audit.jsonl``."""
    return layout(config).audit


def existing_reference_files(config: dict[str, Any]) -> list[str]:
    """The sites' reference files that exist now: the study check runs again when one changes
    (one that is missing is the check's to report, with its site file and line, not Snakemake's).
    """
    return [str(s.reference_path) for s in sites(config) if s.reference_path.is_file()]


def study_check_options(config: dict[str, Any]) -> str:
    """``--site <id>`` for ``mval study check`` at a federated site (``federated.site``): there
    only the site's own partitions and reference file are at hand; else nothing (every site)."""
    site = (config.get("federated") or {}).get("site")
    return f"--site {site}" if site else ""


def lock_required(config: dict[str, Any]) -> bool:
    return bool(config["lock"]["required"])


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
    """``demo.postmarket`` and ``demo.seed`` of the (filled) config, checked together.

    ``shift`` is a :class:`~validation.demo.scenario.Shift` or None (``null``, also as text);
    keys a given shift leaves out take the schema default's values.

    Raises
    ------
    ConfigError
        A value out of range, or a shift month after the last month.
    """
    from validation.demo.scenario import PostmarketSettings, parse_shift

    demo = config["demo"]
    given = demo["postmarket"]
    settings = PostmarketSettings(
        months=given["months"],
        studies_per_month=given["studies_per_month"],
        audit_fraction=given["audit_fraction"],
        seed=demo["seed"],
        shift=parse_shift(given["shift"]),
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


def postmarket_folder(demo_out: str) -> str:
    """Where the post-market demo writes, given the demo's folder: ``<demo_out>/postmarket``."""
    return f"{demo_out}/postmarket"


def postmarket_dir(config: dict[str, Any]) -> str:
    """Where the config's post-market demo writes: ``<demo.out>/postmarket``."""
    return postmarket_folder(config["demo"]["out"])


def postmarket_marker_path(config: dict[str, Any]) -> str:
    """The post-market demo's ``scenario.json``: written last, so it marks a complete run."""
    return f"{postmarket_dir(config)}/scenario.json"


def postmarket_inputs(config: dict[str, Any]) -> list[str]:
    """Surveillance waits for the post-market demo when the demo is enabled; else for nothing."""
    return [postmarket_marker_path(config)] if demo_enabled(config) else []


def postmarket_months(config: dict[str, Any]) -> list[str]:
    """``YYYY-MM`` of the post-market demo's months, in order."""
    from validation.demo.scenario import month_labels

    return month_labels(postmarket_settings(config)["months"])


def surveillance_source(config: dict[str, Any]) -> str:
    """Folder of the monthly production batches: ``surveillance.source``, else the demo's."""
    return config["surveillance"].get("source") or f"{postmarket_dir(config)}/batches"


def surveillance_labels(config: dict[str, Any]) -> str:
    """Folder of the late labels: ``surveillance.labels``, else the demo's."""
    return config["surveillance"].get("labels") or f"{postmarket_dir(config)}/labels"


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


def all_surveillance_batches(config: dict[str, Any]) -> list[str]:
    """``batch.csv`` of every month to process (``mval monitor batch``)."""
    files = layout(config).surveillance
    return [files.batch(month) for month in surveillance_months(config)]


#: The ``surveillance`` settings ``mval monitor run`` takes as options of the same names.
SURVEILLANCE_OPTIONS = (
    "familywise_alpha",
    "arl0_months",
    "horizon_months",
    "min_shift",
    "min_rate_change",
    "bias_weight",
    "label_delay_months",
)


def surveillance_options(config: dict[str, Any]) -> str:
    """``--familywise-alpha 0.05 ...``: the config's surveillance settings for ``mval monitor
    run`` (every one, given or the schema's default)."""
    given = config["surveillance"]
    return " ".join(f"--{name.replace('_', '-')} {given[name]}" for name in SURVEILLANCE_OPTIONS)


def all_site_files(config: dict[str, Any]) -> list[str]:
    """Every site file (``sites/<id>.yaml``): a changed ``deployments`` list re-runs the
    surveillance jobs that depend on it."""
    return [str(path) for path in site_files(config["sites"])]
