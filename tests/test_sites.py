"""Site files: schema, id/file-name agreement, partitions."""

from __future__ import annotations

import pytest

from validation.exceptions import ConfigError
from validation.sites import check_deployments, load_site, load_sites, site_files


def test_repo_sites_have_four_sites_three_vendors_each(repo_root):
    sites = load_sites(site_files(repo_root / "sites"))
    assert len(sites) >= 4
    assert all(len(site.partitions) >= 3 for site in sites)
    assert sites[0].partition("GE").key == "s01/GE"


def test_unknown_vendor_partition(repo_root):
    site = load_site(repo_root / "sites" / "s01.yaml")
    with pytest.raises(ConfigError, match="no partition for vendor 'Esaote'"):
        site.partition("Esaote")


def test_id_must_match_file_name(tmp_path, repo_root):
    path = tmp_path / "s09.yaml"
    path.write_text((repo_root / "sites" / "s01.yaml").read_text())
    with pytest.raises(ConfigError, match="id is 's01' but the file name says 's09'"):
        load_site(path)


def test_schema_error_is_located(tmp_path):
    path = tmp_path / "s01.yaml"
    path.write_text(
        "id: s01\nname: X\npartitions:\n  - vendor: GE\n    source: {kind: ftp}\n"
        "reference: {path: r.csv}\n"
    )
    with pytest.raises(ConfigError, match=r"partitions\[0\]\.source"):
        load_site(path)


_SITE = (
    "id: s01\nname: X\npartitions:\n  - vendor: GE\n    source: {kind: folder, path: d}\n"
    "reference: {path: r.csv}\n"
)


def test_deployments_give_the_version_per_month(tmp_path):
    path = tmp_path / "s01.yaml"
    path.write_text(
        _SITE + "deployments:\n  - {version: '1.1.0', from: 2027-01}\n"
        "  - {version: '1.0.0', from: 2027-06}\n"
    )
    site = load_site(path)
    assert [site.version_at(m, "1.0.0") for m in ("2026-12", "2027-01", "2027-05", "2027-06")] == [
        "1.0.0",
        "1.1.0",
        "1.1.0",
        "1.0.0",
    ]
    assert site.version_changes("1.0.0") == [
        ("2027-01", "1.0.0", "1.1.0"),
        ("2027-06", "1.1.0", "1.0.0"),
    ]
    check_deployments([site], ["1.0.0", "1.1.0"])


def test_no_deployments_means_the_released_version(repo_root):
    site = load_site(repo_root / "sites" / "s02.yaml")
    assert site.deployments == ()
    assert site.version_at("2027-05", "1.0.0") == "1.0.0"


def test_deployment_of_an_unlocked_version_is_refused(tmp_path):
    path = tmp_path / "s01.yaml"
    path.write_text(_SITE + "deployments: [{version: '2.0.0', from: 2027-01}]\n")
    site = load_site(path)
    with pytest.raises(ConfigError, match=r"s01\.yaml.*'2\.0\.0'.*'1\.0\.0', '1\.1\.0'"):
        check_deployments([site], ["1.0.0", "1.1.0"])


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("[{version: '1.1.0', from: 2027-13}]", r"deployments\[0\]\.from"),
        ("[{version: '1.1.0'}]", r"deployments\[0\]"),
        (
            "[{version: '1.1.0', from: 2027-03}, {version: '1.0.0', from: 2027-02}]",
            "strictly increasing month order",
        ),
    ],
)
def test_malformed_deployments(tmp_path, entries, message):
    path = tmp_path / "s01.yaml"
    path.write_text(_SITE + f"deployments: {entries}\n")
    with pytest.raises(ConfigError, match=message):
        load_site(path)


def test_reference_mapping_is_read(tmp_path):
    path = tmp_path / "s01.yaml"
    path.write_text(
        _SITE.replace(
            "reference: {path: r.csv}\n",
            "reference:\n  path: r.csv\n  key: StudyUID\n  columns: {lvh: LVH_flag}\n",
        )
    )
    site = load_site(path)
    assert (site.reference_key, site.reference_columns) == ("StudyUID", {"lvh": "LVH_flag"})
    assert site.reference_renames == {"StudyUID": "study_instance_uid", "LVH_flag": "lvh"}


def test_without_mapping_the_key_is_study_instance_uid(tmp_path):
    path = tmp_path / "s01.yaml"
    path.write_text(_SITE)
    site = load_site(path)
    assert (site.reference_key, site.reference_columns, site.reference_renames) == (
        "study_instance_uid",
        {},
        {},
    )


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("  columns: {study_instance_uid: UID}\n", "name the site's study key column with"),
        ("  key: X\n  columns: {lvh: X}\n", r"distinct columns.*\['X'\]"),
        ("  columns: {lvh: A, consensus: A}\n", r"distinct columns.*\['A'\]"),
        ("  columns: {lvh: ''}\n", r"reference\.columns\.lvh"),
    ],
)
def test_a_mapping_naming_a_column_twice_is_refused(tmp_path, reference, message):
    path = tmp_path / "s01.yaml"
    path.write_text(
        _SITE.replace("reference: {path: r.csv}\n", f"reference:\n  path: r.csv\n{reference}")
    )
    with pytest.raises(ConfigError, match=message):
        load_site(path)
