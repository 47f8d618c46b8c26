"""``mval keys`` and ``mval bundle`` as a site and the coordinating centre run them."""

from __future__ import annotations

import json
from pathlib import Path

from validation.audit import verify
from validation.cli import main


def test_keys_generate(tmp_path, capsys):
    assert main(["keys", "generate", "--site", "s07", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "s07.key" in out and "register it at the coordinating centre" in out
    assert (tmp_path / "s07.key").stat().st_mode & 0o777 == 0o600
    assert main(["keys", "generate", "--site", "s07", "--out", str(tmp_path)]) == 2


def _export(site: str, audit: str) -> int:
    site_file, key = f"sites/{site}.yaml", f"keys/{site}.key"
    return main(
        [
            *("bundle", "export", "--site", site_file, "--protocol", "protocols/demo.yaml"),
            *("--results", "results/demo", "--key", key, "--out", f"inbox/{site}.bundle"),
            *("--audit", audit),
        ]
    )


def _verify(*bundles: str) -> list[str]:
    return [
        *("bundle", "verify", *bundles, "--protocol", "protocols/demo.yaml"),
        *("--sites", "sites", "--keys", "sites/keys", "--audit", "centre-audit.jsonl"),
    ]


def test_export_then_verify_prints_each_bundle_and_refuses_with_exit_11(study, capsys):
    for site in ("s01", "s02"):
        assert _export(site, "site-audit.jsonl") == 0
    assert main(_verify("inbox/s01.bundle", "inbox/s02.bundle")) == 0
    out = capsys.readouterr().out
    assert "inbox/s01.bundle: OK site s01, signed by key" in out
    assert "inbox/s02.bundle: OK site s02" in out

    data = bytearray(Path("inbox/s02.bundle").read_bytes())
    data[-2000] ^= 0xFF
    Path("inbox/s02.bundle").write_bytes(bytes(data))
    assert main(_verify("inbox/s01.bundle", "inbox/s02.bundle", "inbox/s01.bundle")) == 11
    captured = capsys.readouterr()
    assert "inbox/s01.bundle: OK site s01" in captured.out
    assert "inbox/s02.bundle: REFUSED (site s02): payload changed after signing" in captured.out
    assert "a second bundle for site s01" in captured.out
    assert "mval bundle: error: bundle inbox/s02.bundle (site s02) refused" in captured.err

    assert verify("site-audit.jsonl") == 2 and verify("centre-audit.jsonl") == 2
    entries = [json.loads(line) for line in Path("centre-audit.jsonl").read_text().splitlines()]
    assert [e["stage"] for e in entries] == ["bundle-verify", "bundle-verify"]
    verdicts = [b["verdict"] for b in entries[-1]["details"]["bundles"]]
    assert verdicts == ["OK", "REFUSED", "REFUSED"]
