"""DICOMweb partitions against a real Orthanc: QIDO-RS, WADO-RS, caching and accounting.

Site s01 of the tiny demo study (all three vendors' folders, planted bad files included) is
uploaded with Orthanc's REST API. Orthanc itself refuses two of the planted files (the truncated
file and the non-DICOM text file: HTTP 400) and stores the planted second copy of a study only
once (same SOP Instance UID: "AlreadyStored"). Those three never reach a DICOMweb client, so the
cached partition is compared with the folder original minus exactly those rows. One more instance,
whose SOP Instance UID starts with ``LOCKED_UID_PREFIX``, is listed by QIDO-RS but refused by
WADO-RS (HTTP 403 from the server's request filter).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from urllib.parse import urlsplit

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from tests.orthanc import LOCKED_UID_PREFIX, OrthancServer, free_port, require
from validation.exceptions import ConfigError, IngestError
from validation.ingest.dicomweb import fetch_partition, materialize
from validation.ingest.scan import AccountingRow, scan_partition
from validation.sites import Partition, load_site

#: the demo's test period; the locked study is dated before it. (No wildcards: Orthanc 1.10 does
#: not percent-decode query values, and dicomweb-client encodes "*" as "%2A".)
SITE_FILTER = {"StudyDate": "20260101-20261231"}
LOCKED_FILTER = {"StudyDate": "20250101"}


@pytest.fixture(scope="module")
def site_folder(tiny_demo: Path) -> Path:
    return tiny_demo / "data" / "demo" / "test" / "s01"


@pytest.fixture(scope="module")
def loaded(orthanc: OrthancServer, site_folder: Path, tmp_path_factory) -> OrthancServer:
    """The Orthanc fixture holding site s01's files and one instance WADO-RS refuses."""
    for path in sorted(p for p in site_folder.rglob("*") if p.is_file()):
        orthanc.upload(path)
    source = next(site_folder.glob("GE/S01-GE*/IM_0001.dcm"))
    ds = pydicom.dcmread(source)
    ds.PatientID = "LOCKED-0001"
    ds.PatientName = "DEMO^LOCKED"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20250101"
    ds.StudyInstanceUID = "2.25.1717001"
    ds.SeriesInstanceUID = "2.25.1717002"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{LOCKED_UID_PREFIX}1"
    locked = tmp_path_factory.mktemp("locked") / "locked.dcm"
    ds.save_as(locked, enforce_file_format=True)
    assert orthanc.upload(locked).ok, orthanc.log_tail()
    return orthanc


def _folder_partition(folder: Path, vendor: str) -> Partition:
    return Partition("s01", vendor, "folder", folder)


def _stored_as_new(response: requests.Response) -> bool:
    return response.ok and response.json()["Status"] == "Success"


def _by_sop(rows: list[AccountingRow]) -> dict[str, tuple[str, str]]:
    return {r.sop_instance_uid: (r.status, r.reason) for r in rows if r.sop_instance_uid}


def test_server_refuses_exactly_the_unparseable_planted_files(loaded, site_folder):
    rows = {r.path: r for r in scan_partition(_folder_partition(site_folder, "GE"))}
    refused = {path for path, response in loaded.uploads.items() if not response.ok}
    assert {rows[p].reason for p in refused} == {"truncated", "not_dicom"}
    assert all(loaded.uploads[p].status_code == 400 for p in refused)
    duplicate = next(p for p, r in rows.items() if r.reason == "duplicate_sop_instance")
    assert loaded.uploads[duplicate].json()["Status"] == "AlreadyStored"


def test_qido_finds_the_uploaded_studies(loaded, site_folder):
    expected = {
        str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
        for path, response in loaded.uploads.items()
        if response.ok and Path(path).is_relative_to(site_folder)
    }
    client = DICOMwebClient(loaded.dicomweb_url)
    found = client.search_for_studies(search_filters=SITE_FILTER)
    assert {item["0020000D"]["Value"][0] for item in found} == expected
    assert len(expected) >= 12 + 4  # 4 studies per partition plus the planted ones


def test_fetch_caches_exactly_the_instances_the_server_holds(loaded, tmp_path):
    summary = fetch_partition(loaded.dicomweb_url, SITE_FILTER, tmp_path / "cache")
    held = loaded.sop_instance_uids({"PatientID": "S01-*"})  # Orthanc REST, not QIDO
    cached = sorted((tmp_path / "cache").rglob("*.dcm"))
    assert {p.stem for p in cached} == held
    assert summary.listed == summary.fetched == len(held) and not summary.failures
    for path in cached:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        assert path.parent.name == header.StudyInstanceUID
        assert path.stem == header.SOPInstanceUID
    # unchanged bytes: the cache hashes like the originals
    originals = {
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): Path(p)
        for p, response in loaded.uploads.items()
        if _stored_as_new(response)
    }
    assert all(p.read_bytes() == originals[p.stem].read_bytes() for p in cached)


@pytest.mark.parametrize("vendor", ["GE", "Philips", "Canon"])
def test_cached_files_ingest_like_the_folder_originals(loaded, site_folder, tmp_path, vendor):
    fetch_partition(loaded.dicomweb_url, SITE_FILTER, tmp_path / "cache")
    original = scan_partition(_folder_partition(site_folder, vendor))
    cached = scan_partition(_folder_partition(tmp_path / "cache", vendor))
    expected = _by_sop([r for r in original if _stored_as_new(loaded.uploads[r.path])])
    assert _by_sop(cached) == expected
    assert len(cached) == len(expected)
    assert {"included", "excluded"} <= {status for status, _ in expected.values()}


def test_instance_refused_by_wado_is_a_failure_with_status_and_uid(loaded, tmp_path):
    summary = fetch_partition(loaded.dicomweb_url, LOCKED_FILTER, tmp_path)
    assert (summary.listed, summary.cached) == (1, 0)
    (failure,) = summary.failures
    sop = f"{LOCKED_UID_PREFIX}1"
    assert failure["sop_instance_uid"] == sop and failure["reason"] == "unreadable"
    assert "HTTP 403" in failure["detail"] and sop in failure["detail"]
    assert failure["path"].endswith(f"/instances/{sop}")
    row = AccountingRow(site="s01", vendor="GE", **failure)
    assert row.status == "excluded" and row.study_instance_uid == "2.25.1717001"


def test_refetch_reuses_cache_and_removes_stale_instances(loaded, tmp_path):
    cache = tmp_path / "cache"
    first = fetch_partition(loaded.dicomweb_url, SITE_FILTER, cache)
    stale = cache / "2.25.11" / "2.25.12.dcm"
    stale.parent.mkdir()
    stale.write_bytes(b"left over from an earlier run")
    (cache / "2.25.11" / "2.25.13.dcm.part").write_bytes(b"interrupted write")
    foreign = cache / "README.txt"
    foreign.write_text("not ours")
    second = fetch_partition(loaded.dicomweb_url, SITE_FILTER, cache)
    assert (second.fetched, second.reused, second.removed) == (0, first.listed, 1)
    assert not stale.parent.exists() and foreign.exists()
    third = fetch_partition(loaded.dicomweb_url, SITE_FILTER, cache, refetch=True)
    assert (third.fetched, third.reused) == (first.listed, 0)


def test_materialize_writes_fetch_record_and_failure_rows(loaded, tmp_path):
    partition = Partition(
        "s01",
        "GE",
        "dicomweb",
        None,
        source_url=loaded.dicomweb_url,
        study_filter={},
    )
    folder, failures = materialize(partition, tmp_path / "cache")
    assert folder == tmp_path / "cache" / "s01" / "GE"
    record = json.loads((tmp_path / "cache" / "s01" / "GE.fetch.json").read_text())
    assert record["partition"] == "s01/GE" and record["url"] == loaded.dicomweb_url
    rows = scan_partition(dataclasses.replace(partition, source_kind="folder", source_path=folder))
    rows += [AccountingRow(site=partition.site, vendor=partition.vendor, **f) for f in failures]
    assert len(rows) == record["listed"] == record["cached"] + len(failures)
    assert [f["sop_instance_uid"] for f in failures] == [f"{LOCKED_UID_PREFIX}1"]


def test_materialize_returns_a_folder_partition_as_is(tmp_path):
    partition = Partition("s01", "GE", "folder", tmp_path)
    assert materialize(partition, tmp_path / "unused") == (tmp_path, [])


def test_connection_refused_is_an_ingest_error_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    with pytest.raises(IngestError, match=f"DICOMweb server {url} cannot be reached"):
        fetch_partition(url, {}, tmp_path, retries=0)


def test_wrong_root_is_an_ingest_error_with_the_http_status(orthanc, tmp_path):
    url = f"{orthanc.url}/not-dicom-web"
    with pytest.raises(IngestError, match=rf"{url}.*HTTP 404.*service root"):
        fetch_partition(url, {}, tmp_path)


def test_malformed_url_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError, match=r"must be an http\(s\) URL.*got 'ftp://pacs'"):
        fetch_partition("ftp://pacs", {}, tmp_path)


SITE_YAML = """\
id: s09
name: Web Site
partitions:
  - vendor: GE
    source: {{kind: dicomweb, url: "{url}", study_filter: {{ModalitiesInStudy: US, {extra}}}}}
  - vendor: Philips
    source: {{kind: folder, path: data/Philips}}
reference: {{path: ref.csv}}
"""


def test_site_file_with_a_dicomweb_partition(tmp_path):
    path = tmp_path / "s09.yaml"
    url = "http://127.0.0.1:8042/dicom-web/"
    path.write_text(SITE_YAML.format(url=url, extra="StudyDate: 20260101-20261231"))
    site = load_site(path, root=tmp_path)
    web, folder = site.partition("GE"), site.partition("Philips")
    assert (web.source_kind, web.source_path) == ("dicomweb", None)
    assert web.source_url == "http://127.0.0.1:8042/dicom-web" == web.source
    assert web.study_filter == {"ModalitiesInStudy": "US", "StudyDate": "20260101-20261231"}
    assert folder.source_path == tmp_path / "data" / "Philips" and folder.source_url is None
    assert hash(web) == hash(dataclasses.replace(web))


@pytest.mark.parametrize(
    ("url", "extra", "message"),
    [
        ("pacs.example.org/dicom-web", "StudyDate: 2026", r"partitions\[0\]\.source\.url"),
        ("http://pacs/dicom-web", "bad key: 1", r"partitions\[0\]\.source\.study_filter"),
    ],
)
def test_site_file_dicomweb_source_is_validated(tmp_path, url, extra, message):
    path = tmp_path / "s09.yaml"
    path.write_text(SITE_YAML.format(url=url, extra=extra))
    with pytest.raises(ConfigError, match=message):
        load_site(path)


@pytest.mark.parametrize(
    ("ci", "outcome"), [("1", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_server_fails_under_ci_and_skips_otherwise(monkeypatch, tmp_path, ci, outcome):
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    with pytest.raises(outcome, match="Orthanc server binary not found"):
        require(str(tmp_path / "no-such-Orthanc"), "Orthanc server binary")


class _FakeServer(requests.adapters.BaseAdapter):
    """Answers requests from a table of URL paths (for malformed-server cases only)."""

    def __init__(self, routes: dict[str, tuple[int, object]]) -> None:
        super().__init__()
        self.routes = routes

    def send(self, request, **kwargs):
        path = urlsplit(request.url).path
        status, body = self.routes.get(path, (404, []))
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response.reason = "Internal Server Error" if status == 500 else "OK"
        if isinstance(body, bytes):
            response._content, response.headers["Content-Type"] = body, "text/html"
        else:
            response._content = json.dumps(body).encode()
            response.headers["Content-Type"] = "application/dicom+json"
        return response

    def close(self) -> None:
        pass


def _fake_session(routes: dict[str, tuple[int, object]]) -> requests.Session:
    session = requests.Session()
    session.mount("http://pacs.test/", _FakeServer(routes))
    return session


def _uid_item(tag: str, uid: str) -> dict:
    return {tag: {"vr": "UI", "Value": [uid]}}


FAKE = "http://pacs.test/dicom-web"


def test_malformed_uids_and_listing_errors_become_failures_not_files(tmp_path):
    root = "/dicom-web/studies"
    routes = {
        root: (200, [_uid_item("0020000D", "1.2.3"), _uid_item("0020000D", "1.2.4")]),
        f"{root}/1.2.3/series": (200, [_uid_item("0020000E", "../../evil")]),
        f"{root}/1.2.4/series": (200, [_uid_item("0020000E", "1.2.4.1")]),
        f"{root}/1.2.4/series/1.2.4.1/instances": (200, [_uid_item("00080018", "../x")]),
    }
    cache = tmp_path / "cache"
    summary = fetch_partition(FAKE, {}, cache, session=_fake_session(routes), retries=0)
    details = [f["detail"] for f in summary.failures]
    assert "invalid series UID '../../evil'" in details[0]
    assert "invalid SOP Instance UID '../x'; not retrieved" in details[1]
    assert summary.cached == 0 and not list(tmp_path.rglob("*.dcm"))
    del routes[f"{root}/1.2.4/series"]  # now 404 on the series listing of one study
    routes[f"{root}/1.2.3/series"] = (500, [])
    summary = fetch_partition(FAKE, {}, cache, session=_fake_session(routes), retries=0)
    assert [f["study_instance_uid"] for f in summary.failures] == ["1.2.3", "1.2.4"]
    assert "HTTP 500 Internal Server Error" in summary.failures[0]["detail"]
    assert all(f["reason"] == "unreadable" and not f["sop_instance_uid"] for f in summary.failures)


def test_server_ignoring_offset_is_an_ingest_error(tmp_path):
    page = [_uid_item("0020000D", f"1.2.{k}") for k in range(500)]
    routes = {"/dicom-web/studies": (200, page)}
    with pytest.raises(IngestError, match=r"same results again at offset 500.*ignores 'offset'"):
        fetch_partition(FAKE, {}, tmp_path, session=_fake_session(routes), retries=0)


def test_server_ignoring_paging_with_all_results_in_one_answer(tmp_path):
    routes = {
        "/dicom-web/studies": (200, [_uid_item("0020000D", "1.2.3")]),
        "/dicom-web/studies/1.2.3/series": (200, []),
    }
    summary = fetch_partition(FAKE, {}, tmp_path, session=_fake_session(routes), retries=0)
    assert (summary.studies, summary.listed, summary.failures) == (1, 0, ())


def test_html_instead_of_dicom_json_is_an_ingest_error(tmp_path):
    routes = {"/dicom-web/studies": (200, b"<html>login</html>")}
    with pytest.raises(IngestError, match=f"{FAKE}.*did not return DICOM JSON"):
        fetch_partition(FAKE, {}, tmp_path, session=_fake_session(routes), retries=0)
