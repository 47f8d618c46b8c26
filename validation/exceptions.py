"""Exception hierarchy of the toolkit, each mapped to a distinct CLI exit code.

The command line (:mod:`validation.cli`) turns these into a one-line message on stderr and the
exit code below, so that a scheduler or Snakemake can tell what went wrong without parsing text.
"""

from __future__ import annotations

#: Exit status of ``mval monitor run`` when the surveillance raises an alarm (not an error: the
#: run completed and its outputs are written); ``--alarm-exit-code`` overrides it.
ALARM_EXIT = 10


class ValidationToolkitError(Exception):
    """Base class of every error the toolkit raises on purpose."""

    exit_code: int = 1


class ConfigError(ValidationToolkitError):
    """A configuration file (workflow config, site file) is missing or malformed."""

    exit_code = 2


class StudyCheckError(ConfigError):
    """``mval study check`` found at least one error in the study's files (protocol, site files,
    partition sources, reference files, model cards); it lists every one. Exit code 2, as any
    configuration error."""


class ProtocolError(ConfigError):
    """The pre-registered protocol (statistical analysis plan) is missing or malformed."""

    exit_code = 3


class IngestError(ValidationToolkitError):
    """A data partition cannot be ingested at all (not: one bad file, which is excluded)."""

    exit_code = 4


class ModelIntegrityError(ValidationToolkitError):
    """A file differs from its recorded sha256 (model, protocol, data) or a model cannot load."""

    exit_code = 5


class AnalysisError(ValidationToolkitError):
    """The analysis cannot proceed (e.g. predictions and reference cannot be joined)."""

    exit_code = 6


class ReportError(ValidationToolkitError):
    """A report (evidence or surveillance report) cannot be rendered."""

    exit_code = 7


class LockError(ValidationToolkitError):
    """The protocol has no lock record, or its lock record is malformed or out of order."""

    exit_code = 8


class LockMissingError(LockError):
    """The protocol has no lock record at all."""


class AuditError(ValidationToolkitError):
    """The audit trail is broken: an entry was edited, removed or reordered."""

    exit_code = 9


class IntegrityError(ModelIntegrityError):
    """A file's sha256 differs from the one on record."""

    def __init__(self, path: str, expected: str, actual: str, what: str = "file") -> None:
        # exit code 5 (model integrity) for weights, protocols and data alike: a changed file
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{what} {path!s} has been changed: expected sha256 {expected}, got sha256 {actual}"
        )


class BundleError(ValidationToolkitError):
    """A federated site bundle is refused: unsigned, signed by a key not registered for its
    site, changed after signing, made under another protocol or lock, for a site outside the
    study (or a second one for a site), or holding pixels or identifying data.

    The message names the bundle file, the site and what failed, e.g. ``bundle
    s02.bundle (site s02) refused: signature does not verify with the key registered for
    s02 ...``.
    """

    exit_code = 11

    def __init__(self, bundle: str, site: str | None, reason: str) -> None:
        self.bundle = str(bundle)
        self.site = site
        self.reason = reason
        where = f" (site {site})" if site else ""
        super().__init__(f"bundle {self.bundle}{where} refused: {reason}")


class DecoderMissingError(ValidationToolkitError):
    """This environment cannot decode a transfer syntax that the data use: a package to install,
    not a fault of the file or of the device (so never a study's exclusion).

    The message names the file, the transfer syntax and the package that decodes it, e.g.
    ``data/s01/GE/a.dcm: transfer syntax 1.2.840.10008.1.2.4.70 (JPEG Lossless, SV1) needs a
    decoder: pip install python-gdcm``.
    """

    exit_code = 12


class ModelContractError(ValidationToolkitError):
    """A model's outputs break its card's contract (count, shape, dtype, finite, range): a
    defect of the model or its card, not of a file, so it stops the partition's run.

    The message names the model (name and version), the output and what came, e.g.
    ``ivsd-cnn 1.0.0: output 'ivsd_mm' has shape (2, 2), expected (2,) (one value per
    study)``.
    """

    exit_code = 13
