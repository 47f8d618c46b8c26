"""Fetch a DICOMweb partition into a local folder cache, accounting for every listed instance.

A site may serve a partition from a PACS or VNA instead of a folder: its ``source`` is then
``{kind: dicomweb, url: ..., study_filter: {...}}``. QIDO-RS finds the studies that match the
filter, then each study's series and instances; WADO-RS retrieves the instances one at a time,
each written as a DICOM Part 10 file ``<cache>/<StudyInstanceUID>/<SOPInstanceUID>.dcm``. The
folder is then ingested like any other (:func:`validation.ingest.scan.scan_partition`), so the
same header checks and reason codes apply.

Every instance QIDO-RS lists ends up either as a cached file or as a failure with a reason
(reason code ``unreadable``; the detail names the HTTP status and the SOP Instance UID), which
ingestion writes as an excluded row. A server that cannot be reached at all, or refuses the study
search (401, 403, 404, ...), raises :class:`~validation.exceptions.IngestError` naming the URL:
a partition-level failure must stop the run, never turn into excluded rows.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from validation.exceptions import IngestError
from validation.sites import Partition

log = logging.getLogger(__name__)

#: DICOM PS3.5 9.1: digits and dots, no leading zeros in a component, at most 64 characters.
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_TAG = {"study": "0020000D", "series": "0020000E", "sop": "00080018"}
_PAGE = 500  # QIDO-RS results requested per page
_PART = ".part"  # suffix of a file being written; renamed into place once complete
_HINTS = {
    401: "authentication required: pass a session with credentials",
    403: "access forbidden for these credentials",
    404: "not found: is the URL the DICOMweb service root (e.g. http://host:8042/dicom-web)?",
}


@dataclass(frozen=True)
class FetchSummary:
    """What :func:`fetch_partition` found on the server and what it cached.

    ``listed == fetched + reused + len(instance failures)`` always holds; a failure row without
    a SOP Instance UID stands for a study or series whose instances could not be listed.
    """

    url: str
    study_filter: dict[str, str]
    cache_dir: Path
    studies: int
    listed: int
    fetched: int
    reused: int
    removed: int
    failures: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @property
    def cached(self) -> int:
        """Instances present in the cache after the fetch."""
        return self.fetched + self.reused

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable record (for the partition's fetch log)."""
        return {
            "url": self.url,
            "study_filter": self.study_filter,
            "cache_dir": str(self.cache_dir),
            "studies": self.studies,
            "listed": self.listed,
            "fetched": self.fetched,
            "reused": self.reused,
            "removed": self.removed,
            "cached": self.cached,
            "failures": list(self.failures),
        }


@dataclass(frozen=True)
class _Instance:
    """A listed instance; its three UIDs are valid (so safe as file names)."""

    study: str
    series: str
    sop: str


def fetch_partition(
    url: str,
    study_filter: Mapping[str, Any] | None,
    cache_dir: str | Path,
    *,
    session: requests.Session | None = None,
    timeout: float = 60.0,
    retries: int = 4,
    refetch: bool = False,
) -> FetchSummary:
    """Cache every instance of the studies a DICOMweb server lists for ``study_filter``.

    Parameters
    ----------
    url : str
        DICOMweb service root, e.g. ``"http://127.0.0.1:8042/dicom-web"``.
    study_filter : mapping or None
        QIDO-RS study-level query parameters, keyword or tag to value, e.g.
        ``{"ModalitiesInStudy": "US", "StudyDate": "20260101-20261231"}``; None or empty lists
        every study on the server.
    cache_dir : str or Path
        Folder for the instances, ``<cache_dir>/<StudyInstanceUID>/<SOPInstanceUID>.dcm``;
        created if missing.
    session : requests.Session, optional
        HTTP session to use (credentials, headers, certificates); a new one by default.
    timeout : float, default 60.0
        Seconds to wait for the server to connect and to answer each request.
    retries : int, default 4
        Further attempts of a request that could not connect or that got HTTP 408, 429, 503 or
        504, with exponential back-off (2, 4, 8, 16 s: about 30 s in all with 4); 0 fails at
        once.
    refetch : bool, default False
        Retrieve instances that are already cached. Files are written to a temporary name and
        renamed once complete, so a cached file is always whole; with the default False an
        instance whose file exists is not retrieved again.

    Returns
    -------
    FetchSummary
        Counts and the failures: one dict per instance that could not be retrieved (or study
        or series that could not be listed), with the keys ``path`` (its WADO-RS or QIDO-RS
        URL), ``sop_instance_uid``, ``study_instance_uid``, ``status`` (``"excluded"``),
        ``reason`` (``"unreadable"``) and ``detail``: the fields of an accounting row.

    Raises
    ------
    IngestError
        When the server cannot be reached (connection refused, timeout, DNS) at any point, or
        answers the study search with an HTTP error or something other than DICOM JSON. The
        message names the URL.

    Notes
    -----
    Streaming: one instance is held in memory at a time; only UIDs are kept for the whole
    partition. Files in ``cache_dir`` laid out as ``<UID>/<UID>.dcm`` whose instance the
    server no longer lists are removed, so the folder holds exactly the listed instances that
    could be retrieved; other files are left alone (and ingestion will account for them).
    QIDO-RS results are paged with ``limit``/``offset``. dicomweb-client percent-encodes query
    values; Orthanc 1.10 (Debian 12) does not decode them, so there a filter value with a
    wildcard (``*``, ``?``) or a list (``,``) matches nothing: prefer exact values and date
    ranges (``20260101-20261231``), which need no encoding.

    Examples
    --------
    >>> from validation.ingest.dicomweb import fetch_partition
    >>> summary = fetch_partition(  # doctest: +SKIP
    ...     "http://127.0.0.1:8042/dicom-web", {"ModalitiesInStudy": "US"}, "cache/s01/GE"
    ... )
    >>> summary.listed == summary.cached + len(summary.failures)  # doctest: +SKIP
    True
    """
    url = _check_url(url)
    filters = {str(key): str(value) for key, value in (study_filter or {}).items()}
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    client = _client(url, session, timeout, retries)
    studies = _search(
        client.search_for_studies, url, f"{url}/studies", fatal=True, search_filters=filters
    )
    study_uids = sorted({uid for item in studies if (uid := _value(item, "study"))})
    if not study_uids and any(quote_plus(value) != value for value in filters.values()):
        log.warning(
            "%s: no study matches %s; some servers (Orthanc 1.10, for one) do not decode "
            "percent-encoded query values such as wildcards '*' (sent as %%2A)",
            url,
            filters,
        )
    failures: list[dict[str, str]] = []
    listed: set[tuple[str, str]] = set()
    fetched = reused = 0
    for study in study_uids:
        for instance in _list_study(client, url, study, failures):
            if (instance.study, instance.sop) in listed:
                continue  # listed in two series of the study: fetched once
            listed.add((instance.study, instance.sop))
            target = cache_dir / instance.study / f"{instance.sop}.dcm"
            if target.is_file() and not refetch:
                reused += 1
                continue
            failure = _retrieve(client, url, instance, target)
            if failure is None:
                fetched += 1
            else:  # never both a failure row and a (stale) cached file
                target.unlink(missing_ok=True)
                failures.append(failure)
    removed = _prune(cache_dir, listed)
    summary = FetchSummary(
        url=url,
        study_filter=filters,
        cache_dir=cache_dir,
        studies=len(study_uids),
        listed=len(listed),
        fetched=fetched,
        reused=reused,
        removed=removed,
        failures=tuple(failures),
    )
    log.info(
        "%s: %d studies, %d instances listed, %d fetched, %d reused, %d failed, %d removed",
        url,
        summary.studies,
        summary.listed,
        fetched,
        reused,
        len(failures),
        removed,
    )
    return summary


def probe(
    url: str,
    study_filter: Mapping[str, Any] | None = None,
    *,
    session: requests.Session | None = None,
    timeout: float = 10.0,
) -> int:
    """Ask a DICOMweb server one QIDO-RS study search (``limit=1``): does it answer?

    What ``mval study check`` asks of a DICOMweb partition before a run: the same search
    :func:`fetch_partition` starts with, without listing or retrieving anything, and without
    retries.

    Parameters
    ----------
    url : str
        DICOMweb service root, e.g. ``"http://127.0.0.1:8042/dicom-web"``.
    study_filter : mapping, optional
        The partition's QIDO-RS study-level query parameters.
    session : requests.Session, optional
        HTTP session to use (credentials, headers, certificates).
    timeout : float, default 10.0
        Seconds to wait for the server to connect and to answer.

    Returns
    -------
    int
        The number of matching studies in the answer: 0 (none matches) or 1.

    Raises
    ------
    IngestError
        As :func:`fetch_partition`: the server cannot be reached, or refuses the search, or
        answers something other than DICOM JSON. The message names the URL.
    """
    url = _check_url(url)
    filters = {str(key): str(value) for key, value in (study_filter or {}).items()}
    client = _client(url, session, timeout, 0)
    where = f"{url}/studies"
    try:
        found = client.search_for_studies(search_filters=filters, limit=1)
    except requests.exceptions.HTTPError as exc:
        raise IngestError(
            f"DICOMweb server {url}: QIDO-RS search {where} failed: {_http_status(exc, hint=True)}"
        ) from None
    except (requests.exceptions.JSONDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(
            f"DICOMweb server {url}: QIDO-RS search {where} did not return DICOM JSON "
            f"({exc}); is the URL the DICOMweb service root?"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise _unreachable(url, exc) from None
    except ValueError as exc:
        raise IngestError(f"DICOMweb server {url}: QIDO-RS search {where} failed: {exc}") from None
    return len(found)


def materialize(
    partition: Partition,
    cache_root: str | Path,
    *,
    session: requests.Session | None = None,
    timeout: float = 60.0,
    retries: int = 4,
) -> tuple[Path, list[dict[str, str]]]:
    """The local folder holding a partition's files, fetching a DICOMweb partition first.

    Parameters
    ----------
    partition : Partition
        A ``folder`` partition (returned as is, no failures) or a ``dicomweb`` one.
    cache_root : str or Path
        Root of the DICOMweb caches: the partition's instances go to
        ``<cache_root>/<site>/<vendor>/`` and the fetch record to
        ``<cache_root>/<site>/<vendor>.fetch.json`` (outside the folder that is scanned).
    session : requests.Session, optional
        HTTP session (credentials, headers) for the server.
    timeout : float, default 60.0
        Seconds to wait for each request.
    retries : int, default 4
        Further attempts of a failed request (see :func:`fetch_partition`).

    Returns
    -------
    folder : Path
        The folder to scan, e.g. with ``dataclasses.replace(partition, source_kind="folder",
        source_path=folder)``.
    failures : list of dict
        Instances listed but not retrieved, each with the keys of an accounting row
        (``path, sop_instance_uid, study_instance_uid, status, reason, detail``), so that
        ``AccountingRow(site=partition.site, vendor=partition.vendor, **failure)`` builds its
        excluded row.

    Raises
    ------
    IngestError
        When the server cannot be reached or refuses the search (see :func:`fetch_partition`),
        or the partition's source kind is unknown.
    """
    if partition.source_kind == "folder" and partition.source_path is not None:
        return partition.source_path, []
    if partition.source_kind != "dicomweb" or not partition.source_url:
        raise IngestError(
            f"partition {partition.key}: source kind {partition.source_kind!r} with url "
            f"{partition.source_url!r} cannot be fetched; expected kind 'dicomweb' with a url"
        )
    folder = Path(cache_root) / partition.site / partition.vendor
    summary = fetch_partition(
        partition.source_url,
        partition.study_filter,
        folder,
        session=session,
        timeout=timeout,
        retries=retries,
    )
    record = {"partition": partition.key, **summary.as_dict()}
    (folder.parent / f"{partition.vendor}.fetch.json").write_text(
        json.dumps(record, indent=2) + "\n", encoding="utf-8"
    )
    return folder, list(summary.failures)


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        raise IngestError(
            f"DICOMweb url must be an http(s) URL such as http://127.0.0.1:8042/dicom-web, "
            f"got {url!r}"
        )
    return url.rstrip("/")


def _client(
    url: str, session: requests.Session | None, timeout: float, retries: int
) -> DICOMwebClient:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise IngestError(f"retries must be a whole number >= 0, got {retries!r}")
    try:
        client = DICOMwebClient(url, session=session, timeout=timeout)
    except ValueError as exc:
        raise IngestError(f"DICOMweb url {url!r} cannot be used: {exc}") from None
    client.set_http_retry_params(retry=retries > 0, max_attempts=retries + 1)
    return client


def _search(
    method: Callable[..., list[dict[str, Any]]],
    url: str,
    where: str,
    *,
    fatal: bool,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """All QIDO-RS results, page by page until an empty page (a server may cap ``limit`` below
    the one asked for). HTTP errors raise IngestError or, if not fatal, _ListingError."""
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    offset = 0
    while True:
        try:
            page = method(limit=_PAGE, offset=offset, **kwargs)
        except requests.exceptions.HTTPError as exc:
            if fatal:
                raise IngestError(
                    f"DICOMweb server {url}: QIDO-RS search {where} failed: "
                    f"{_http_status(exc, hint=True)}"
                ) from None
            raise _ListingError(f"QIDO-RS search {where} failed: {_http_status(exc)}") from None
        except (requests.exceptions.JSONDecodeError, json.JSONDecodeError) as exc:
            raise IngestError(  # e.g. a login page: not a DICOMweb server at that URL
                f"DICOMweb server {url}: QIDO-RS search {where} did not return DICOM JSON "
                f"({exc}); is the URL the DICOMweb service root?"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise _unreachable(url, exc) from None
        except ValueError as exc:
            raise IngestError(
                f"DICOMweb server {url}: QIDO-RS search {where} failed: {exc}"
            ) from None
        if not page:
            return results
        keys = {json.dumps(item, sort_keys=True) for item in page}
        if keys <= seen:
            if len(page) < _PAGE:  # offset ignored, but the first answer held every result
                return results
            raise IngestError(
                f"DICOMweb server {url}: QIDO-RS search {where} returned the same results "
                f"again at offset {offset}; the server ignores 'offset' paging, so results "
                f"beyond the first {len(page)} cannot be listed"
            )
        seen |= keys
        results.extend(page)
        offset += len(page)


class _ListingError(Exception):
    """A study's series or instances could not be listed (recorded, not fatal)."""


def _list_study(
    client: DICOMwebClient, url: str, study: str, failures: list[dict[str, str]]
) -> list[_Instance]:
    """Every instance of one study, via its series; listing errors become failure rows."""
    where = f"{url}/studies/{study}/series"
    if not _is_uid(study):
        failures.append(_failure(where, "", study, f"QIDO-RS listed an invalid UID {study!r}"))
        return []
    try:
        series_items = _search(
            client.search_for_series, url, where, fatal=False, study_instance_uid=study
        )
    except _ListingError as exc:
        failures.append(_failure(where, "", study, f"series of study {study} not listed: {exc}"))
        return []
    instances: list[_Instance] = []
    for series in sorted({uid for item in series_items if (uid := _value(item, "series"))}):
        where = f"{url}/studies/{study}/series/{series}/instances"
        if not _is_uid(series):
            detail = f"QIDO-RS listed an invalid series UID {series!r}; its instances not listed"
            failures.append(_failure(where, "", study, detail))
            continue
        try:
            items = _search(
                client.search_for_instances,
                url,
                where,
                fatal=False,
                study_instance_uid=study,
                series_instance_uid=series,
            )
        except _ListingError as exc:
            detail = f"instances of series {series} not listed: {exc}"
            failures.append(_failure(where, "", study, detail))
            continue
        for sop in sorted({uid for item in items if (uid := _value(item, "sop"))}):
            if _is_uid(sop):
                instances.append(_Instance(study, series, sop))
            else:  # never a file name: a UID could hold "/" or ".."
                detail = f"QIDO-RS listed an invalid SOP Instance UID {sop!r}; not retrieved"
                failures.append(_failure(where, sop[:64], study, detail))
    return instances


def _retrieve(
    client: DICOMwebClient, url: str, instance: _Instance, target: Path
) -> dict[str, str] | None:
    """Retrieve one instance into ``target``; return a failure row, or None when cached."""
    where = f"{url}/studies/{instance.study}/series/{instance.series}/instances/{instance.sop}"
    try:
        dataset = client.retrieve_instance(instance.study, instance.series, instance.sop)
    except requests.exceptions.HTTPError as exc:
        return _failure(
            where,
            instance.sop,
            instance.study,
            f"WADO-RS retrieve of SOP Instance {instance.sop} failed: {_http_status(exc)}",
        )
    except requests.exceptions.RequestException as exc:
        raise _unreachable(url, exc) from None
    except Exception as exc:  # the payload is not a readable DICOM instance
        return _failure(
            where,
            instance.sop,
            instance.study,
            f"WADO-RS response for SOP Instance {instance.sop} is not a readable DICOM "
            f"instance: {type(exc).__name__}: {exc}"[:300],
        )
    got = str(dataset.get("SOPInstanceUID", ""))
    if got != instance.sop:
        return _failure(
            where,
            instance.sop,
            instance.study,
            f"WADO-RS returned SOP Instance {got or '(none)'} for SOP Instance {instance.sop}",
        )
    try:
        _write(dataset, target)
    except OSError as exc:  # the cache, not the instance, is at fault: stop the partition
        raise IngestError(f"cannot write the DICOMweb cache file {target}: {exc}") from None
    except Exception as exc:
        return _failure(
            where,
            instance.sop,
            instance.study,
            f"SOP Instance {instance.sop} retrieved but not writable as a DICOM file: "
            f"{type(exc).__name__}: {exc}"[:300],
        )
    return None


def _write(dataset: Dataset, target: Path) -> None:
    """Write a Part 10 file atomically: a temporary name first, renamed when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + _PART)
    try:
        dataset.save_as(partial, enforce_file_format=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _prune(cache_dir: Path, listed: set[tuple[str, str]]) -> int:
    """Remove cached instances (and partial files) the server no longer lists."""
    removed = 0
    for study_dir in sorted(p for p in cache_dir.iterdir() if p.is_dir() and _is_uid(p.name)):
        for path in sorted(study_dir.iterdir()):
            stale_partial = path.name.endswith(_PART)
            stale_instance = (
                path.suffix == ".dcm"
                and _is_uid(path.stem)
                and (study_dir.name, path.stem) not in listed
            )
            if path.is_file() and (stale_partial or stale_instance):
                path.unlink()
                removed += stale_instance
        if not any(study_dir.iterdir()):
            study_dir.rmdir()
    return removed


def _is_uid(text: str) -> bool:
    """A valid UID is also a safe file name: no separators, no '..'."""
    return len(text) <= 64 and _UID.match(text) is not None


def _value(item: Mapping[str, Any], key: str) -> str:
    element = item.get(_TAG[key]) or {}
    values = element.get("Value") or [""]
    return str(values[0])


def _failure(path: str, sop: str, study: str, detail: str) -> dict[str, str]:
    return {
        "path": path,
        "sop_instance_uid": sop,
        "study_instance_uid": study,
        "status": "excluded",
        "reason": "unreadable",
        "detail": detail,
    }


def _http_status(exc: requests.exceptions.HTTPError, *, hint: bool = False) -> str:
    response = exc.response
    if response is None:
        return str(exc)
    text = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
    advice = _HINTS.get(response.status_code) if hint else None
    return f"{text} ({advice})" if advice else text


def _unreachable(url: str, exc: requests.exceptions.RequestException) -> IngestError:
    kind = "timed out" if isinstance(exc, requests.exceptions.Timeout) else "cannot be reached"
    return IngestError(f"DICOMweb server {url} {kind}: {type(exc).__name__}: {exc}"[:500])


def store(
    url: str,
    paths: Sequence[str | Path],
    *,
    session: requests.Session | None = None,
    timeout: float = 60.0,
    batch: int = 32,
) -> int:
    """Send DICOM files to a DICOMweb server with STOW-RS, ``batch`` files per request.

    Used to return the model's SR results to the PACS the partition came from. Returns the
    number of instances stored.

    Raises
    ------
    IngestError
        When the server cannot be reached or refuses an instance (naming the URL).
    """
    client = _client(_check_url(url), session, timeout, retries=2)
    stored = 0
    for start in range(0, len(paths), batch):
        datasets = [pydicom.dcmread(p) for p in paths[start : start + batch]]
        try:
            response = client.store_instances(datasets)
        except requests.exceptions.HTTPError as exc:
            raise IngestError(f"STOW-RS to {url} refused: {_http_status(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise _unreachable(url, exc) from None
        failed = response.get("00081198") if response else None  # FailedSOPSequence
        if failed and failed.get("Value"):
            raise IngestError(f"STOW-RS to {url}: {len(failed['Value'])} instance(s) refused")
        stored += len(datasets)
    return stored
