"""Site files: schema, id/file-name agreement, partitions."""

from __future__ import annotations

import pytest

from validation.exceptions import ConfigError
from validation.sites import load_site, load_sites, site_files


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
