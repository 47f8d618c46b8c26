"""``mval``: one subcommand per stage of the workflow; every stage can be run by hand.

Exit codes: 0 success; 1 unexpected error; 2 configuration; 3 protocol; 4 ingest;
5 integrity (a file differs from its recorded sha256); 6 analysis; 7 report; 8 lock;
9 audit trail (see :mod:`validation.exceptions`); 10 a surveillance alarm (`mval monitor run`,
unless --alarm-exit-code says otherwise); 11 a federated site bundle refused (`mval bundle`);
12 a transfer syntax whose decoder is not installed (`mval ingest`, `mval infer`); 13 a model
whose outputs break its card's contract (`mval infer`). `mval study check` exits 2
(configuration) when it finds at least one error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from validation import __version__
from validation.demo import MODEL_DIR
from validation.exceptions import ALARM_EXIT, ValidationToolkitError
from validation.schema import config_default
from validation.workflow import (
    REPORT_KINDS,
    SURVEILLANCE_OPTIONS,
    AnalysisFiles,
    SurveillanceFiles,
    postmarket_folder,
)

log = logging.getLogger("mval")


def _cmd_demo_generate(args: argparse.Namespace) -> int:
    from validation.demo.generate import generate_test_cohort
    from validation.sites import load_sites, site_files

    sites = load_sites(site_files(args.sites))
    summary = generate_test_cohort(
        sites, n_studies=args.n_studies, seed=args.seed, out=Path(args.out)
    )
    log.info(
        "demo study written: %d studies over %d sites (seed %d)",
        args.n_studies,
        len(sites),
        args.seed,
    )
    print(json.dumps({k: summary[k] for k in ("seed", "n_studies")}))
    return 0


def _cmd_demo_exports(args: argparse.Namespace) -> int:
    from validation.demo.exports import FORMS, write_form

    for name in args.forms or FORMS:
        path = write_form(name, args.source, Path(args.out) / f"{name}.dcm")
        expected = FORMS[name].expected
        reading = f"excluded ({expected.reason})" if expected.reason else expected.outcome
        print(f"{path}\t{FORMS[name].description}\t{reading}")
    return 0


def _cmd_demo_postmarket(args: argparse.Namespace) -> int:
    from validation.demo.postmarket import generate_postmarket
    from validation.demo.scenario import DEFAULT_SHIFT, PostmarketSettings, parse_shift
    from validation.exceptions import ConfigError
    from validation.sites import load_sites, site_files

    shift = (
        None
        if args.no_shift
        else (DEFAULT_SHIFT if args.shift is None else parse_shift(args.shift))
    )
    settings = PostmarketSettings(
        months=args.months,
        studies_per_month=args.studies_per_month,
        audit_fraction=args.audit_fraction,
        seed=args.seed,
        shift=shift,
    )
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    scenario = generate_postmarket(
        load_sites(site_files(args.sites)), Path(args.out), settings, jobs=args.jobs
    )
    log.info(
        "post-market demo written to %s: %d months, %d studies, %d labels arrived (seed %d)",
        args.out,
        len(scenario["months"]),
        scenario["totals"]["studies"],
        scenario["totals"]["labels_arrived"],
        args.seed,
    )
    print(
        json.dumps(
            {"months": scenario["months"], "totals": scenario["totals"], "shift": scenario["shift"]}
        )
    )
    return 0


def _cmd_demo_train(args: argparse.Namespace) -> int:
    import torch

    from validation.demo.profiles import DEVELOPMENT_VENDORS
    from validation.demo.train import TrainingSettings, train
    from validation.exceptions import ConfigError

    vendors = DEVELOPMENT_VENDORS
    if args.vendors is not None:
        vendors = tuple(v.strip() for v in args.vendors.split(",") if v.strip())
        if not vendors:
            raise ConfigError(f"--vendors needs at least one vendor, got {args.vendors!r}")
    torch.set_num_threads(args.threads)
    settings = TrainingSettings(
        n_studies=args.n_studies, seed=args.seed, epochs=args.epochs, vendors=vendors
    )
    out = args.out or f"{MODEL_DIR}/{args.version}"
    card = train(out, settings, version=args.version)
    summary = {"version": card["version"], "out": out, "weights": card["weights"]}
    summary["performance"] = card["performance"]
    if "change" in card:
        summary["change"] = card["change"]
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_protocol_check(args: argparse.Namespace) -> int:
    from validation.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    primary = sum(e.primary for e in protocol.endpoints)
    print(
        f"{protocol.path}: valid; {len(protocol.endpoints)} endpoints ({primary} primary); "
        f"sha256 {protocol.sha256}"
    )
    return 0


def _cmd_study_check(args: argparse.Namespace) -> int:
    from validation.study_check import check_study, write_record

    check = check_study(
        args.protocol, args.sites, config=args.config, only=args.site, timeout=args.timeout
    )
    if args.out:
        write_record(check, args.out)
    checked = [Path(check.protocol), *sorted(Path(check.sites).glob("*.yaml"))]
    _audit(
        args,
        "study-check",
        [p for p in checked if p.is_file()],
        [args.out] if args.out else [],
        {"status": check.as_dict()["status"], **check.counts},
    )
    if args.json:
        print(json.dumps(check.as_dict(), indent=2))
    else:
        for finding in check.findings:
            print(finding)
        print(check.summary())
    check.raise_for_errors()
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from validation.ingest.rules import protocol_rules
    from validation.ingest.scan import ingest_partition, sharing_partitions
    from validation.protocol import load_protocol
    from validation.sites import load_site

    site = load_site(args.site)
    partition = site.partition(args.vendor)
    rules = protocol_rules(load_protocol(args.protocol)) if args.protocol else None
    summary = ingest_partition(partition, args.out, rules, sharing_partitions(site, partition))
    out = Path(args.out)
    _audit(
        args,
        "ingest",
        [args.site, *([args.protocol] if args.protocol else [])],
        [out / "accounting.csv", out / "manifest.json"],
        {k: summary[k] for k in ("site", "vendor", "received", "included", "excluded")},
    )
    log.info(
        "%s: received %d, included %d, excluded %d %s",
        partition.key,
        summary["received"],
        summary["included"],
        summary["excluded"],
        summary["excluded_by_reason"],
    )
    return 0


def _locked_protocol(args: argparse.Namespace):
    """``--protocol``, its lock checked (``--allow-unlocked``: a warning, the run a DRAFT)."""
    from validation.lock import lock_status
    from validation.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    lock = lock_status(protocol.path, required=not args.allow_unlocked)
    if not lock["valid"]:
        log.warning("running WITHOUT a valid lock (results are a DRAFT): %s", lock["detail"])
    return protocol


def _cmd_infer(args: argparse.Namespace) -> int:
    from validation.ingest.rules import model_rules
    from validation.model.infer import run_inference
    from validation.model.registry import load_locked_model

    protocol = _locked_protocol(args)
    version = (
        protocol.model_version(args.model_version) if args.model_version else protocol.released
    )
    model = load_locked_model(version.path, expected_sha256=version.sha256)
    log.info(
        "model %s %s (%s) verified: sha256 %s",
        model.name,
        model.version,
        version.role,
        model.sha256,
    )
    counts = run_inference(
        model,
        args.accounting,
        args.out,
        batch_size=args.batch_size,
        threads=args.threads,
        rules=model_rules(protocol, model.card),
    )
    log.info("%s: %s", args.out, counts)
    _audit(args, "infer", [args.protocol, args.accounting, model.weights_path], [args.out], counts)
    return 0


def _cmd_model_register(args: argparse.Namespace) -> int:
    from validation.model.register import register_model

    registration = register_model(args.model_dir, write=not args.check)
    for line in registration.lines():
        print(line)
    if registration.written:
        print(f"wrote {registration.card_path}")
    elif not registration.filled:
        print(f"{registration.card_path}: both digests verified, nothing to fill")
    if args.check and registration.filled:
        from validation.exceptions import ModelIntegrityError

        missing = ", ".join(f"weights.{key}" for key in registration.filled)
        raise ModelIntegrityError(
            f"{registration.card_path} records no {missing}: run `mval model register "
            f"{args.model_dir}` to fill it in"
        )
    outputs = [registration.card_path] if registration.written else []
    _audit(args, "model-register", [registration.weights_path], outputs, registration.digests)
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from validation.analysis.results import analyse
    from validation.protocol import load_protocol
    from validation.sites import load_sites, site_files

    protocol = load_protocol(args.protocol)
    sites = load_sites(site_files(args.sites))
    results = analyse(
        protocol,
        sites,
        [Path(p) for p in args.accounting],
        [Path(p) for p in args.predictions],
        args.out,
        candidates={c[0]: [Path(p) for p in c[1:]] for c in args.candidate},
        accounting_out=args.accounting_out,
        require_lock=not args.allow_unlocked,
    )
    files = AnalysisFiles(args.out, accounting=args.accounting_out)
    _audit(
        args,
        "analyze",
        [
            args.protocol,
            *args.accounting,
            *args.predictions,
            *(p for c in args.candidate for p in c[1:]),
            *(r["path"] for r in results["data"]["reference_files"]),
        ],
        [
            files.results,
            files.studies,
            files.manifest,
            *(files.version_studies(c[0]) for c in args.candidate),
            *filter(None, [files.accounting]),
        ],
        {
            "overall_verdict": results["overall_verdict"],
            "lock": results["lock"]["status"],
            **{
                f"candidate {version}": verdict["verdict"]
                for version, verdict in (results.get("comparison") or {})
                .get("verdicts", {})
                .items()
            },
        },
    )
    for endpoint in results["endpoints"]:
        log.info("%-40s %s", endpoint["label"], endpoint["verdict"])
    for failing in results["acceptance"]["strata_failing"]:
        log.info("not met in %(dimension)s %(stratum)s: %(metric)s", failing)
    for version, verdict in (results.get("comparison") or {}).get("verdicts", {}).items():
        log.info("candidate %s against the released version: %s", version, verdict["verdict"])
    log.info("overall: %s; results in %s", results["overall_verdict"], Path(files.results))
    return 0


def _cmd_sr(args: argparse.Namespace) -> int:
    from validation.ingest.dicomweb import store
    from validation.model.sr_export import export_partition_srs
    from validation.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    counts = export_partition_srs(
        args.predictions,
        args.accounting,
        args.out,
        quantity=protocol.measurement,
        finding=protocol.finding,
        expected_sha256=protocol.model_sha256,
    )
    log.info("%s: %s", args.out, counts)
    index = Path(args.out) / "index.csv"
    if args.stow:
        import pandas as pd

        paths = pd.read_csv(index, dtype=str, keep_default_na=False)["path"].tolist()
        counts["stored"] = store(args.stow, paths)
        log.info("stored %d SR(s) at %s with STOW-RS", counts["stored"], args.stow)
    _audit(args, "sr", [args.predictions, args.accounting], [index], counts)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from validation.report import render_report

    paths = render_report(args.results, args.out, kind=args.kind)
    log.info("report written: %s", paths)
    _audit(args, f"report-{args.kind}", [args.results], list(paths.values()))
    return 0


def _cmd_lock(args: argparse.Namespace) -> int:
    from validation.lock import create_lock, lock_path, lock_status

    if not args.verify:
        record = create_lock(args.protocol)
        print(f"locked {args.protocol} at {record.locked_utc}: {lock_path(args.protocol)}")
        print(f"  protocol sha256 {record.protocol_sha256}")
        for model in record.models:
            print(
                f"  model {model['model_name']} {model['model_version']} ({model['role']}) "
                f"sha256 {model['weights_sha256']}"
            )
        _audit(args, "lock", [args.protocol], [lock_path(args.protocol)])
        return 0
    status = lock_status(args.protocol, required=not args.allow_unlocked)
    if status["valid"]:
        log.info("lock verified: %s (locked %s)", status["file"], status["locked_utc"])
    else:
        log.warning("no valid lock; the run's report will be a DRAFT: %s", status["detail"])
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(status, indent=2) + "\n")
    _audit(
        args,
        "lock-verify",
        [args.protocol],
        [args.out] if args.out else [],
        {"status": status["status"]},
    )
    return 0


def _cmd_monitor_batch(args: argparse.Namespace) -> int:
    from validation.sites import load_sites, site_files
    from validation.surveillance.batch import check_month, deployed_models, process_month

    check_month(args.month, "--month")
    protocol = _locked_protocol(args)
    sites = load_sites(site_files(args.sites))
    models = deployed_models(protocol, sites, args.month)
    summary = process_month(
        args.month,
        source=args.source,
        sites=sites,
        model=models,
        released=protocol.released.version,
        out=args.out,
        batch_size=args.batch_size,
        threads=args.threads,
    )
    out = Path(args.out)
    counts = {
        "received": sum(p.get("received", 0) for p in summary["partitions"]),
        "predicted": sum(p.get("predicted", 0) for p in summary["partitions"]),
        "missing_partitions": sum(p["missing"] for p in summary["partitions"]),
    }
    log.info("%s: %s; %s", args.month, counts, out / "batch.csv")
    _audit(
        args,
        "monitor-batch",
        [args.protocol, *(m.weights_path for m in models.values())],
        [out / "batch.csv", out / "batch.json"],
        {"month": args.month, **counts},
    )
    return 0


def _cmd_monitor_run(args: argparse.Namespace) -> int:
    from validation.exceptions import ConfigError
    from validation.surveillance.batch import check_month
    from validation.surveillance.run import run_surveillance
    from validation.surveillance.signals import Settings

    if args.as_of is not None:
        check_month(args.as_of, "--as-of")
    if not 0 <= args.alarm_exit_code <= 255:
        raise ConfigError(f"--alarm-exit-code must be 0 to 255, got {args.alarm_exit_code}")
    try:
        settings = Settings(**{name: getattr(args, name) for name in SURVEILLANCE_OPTIONS})
    except ValueError as exc:
        names = {name: "--" + name.replace("_", "-") for name in SURVEILLANCE_OPTIONS}
        raise ConfigError(_option_names(str(exc), names)) from None
    result = run_surveillance(
        args.protocol,
        baseline_dir=args.baseline,
        batches_dir=args.batches,
        labels_dir=args.labels,
        out=args.out,
        accounting_csv=args.baseline_accounting,
        as_of=args.as_of,
        settings=settings,
        sites_dir=args.sites,
    )
    files = SurveillanceFiles(str(args.out))
    if not args.no_report:
        from validation.report.surveillance import render_surveillance_report

        render_surveillance_report(files.record, files.report_pdf)
    summary = {
        "status": result["status"],
        "as_of": result["as_of"],
        "alerts": len(result["alerts"]),
        "surveillance": str(Path(files.record)),
    }
    print(json.dumps(summary))
    outputs = [files.signals, files.alerts, files.record]
    _audit(args, "monitor-run", [args.protocol, files.baseline], outputs, summary)
    return args.alarm_exit_code if result["status"] == "ALARM" else 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from validation.audit import verify

    count = verify(args.log)
    print(f"{args.log}: {count} entries, chain intact")
    return 0


def _option_names(message: str, names: dict[str, str]) -> str:
    """Name the command-line options, not the Python arguments, in an error message."""
    import re

    return re.sub(r"\b(" + "|".join(names) + r")\b", lambda match: names[match.group(1)], message)


#: ``mval plan``'s options by the argument of :mod:`validation.planning` they set.
_PLAN_OPTIONS = {
    "lower_bound": "--goal",
    "half_width": "--half-width",
    "mean_diff": "--mean-diff",
    "sd_diff": "--sd-diff",
    "loa_multiplier": "--loa-multiplier",
    "delta": "--delta",
    "power": "--power",
    "confidence": "--confidence",
    "prevalence": "--prevalence",
}


def _print_plan(plan, as_json: bool) -> int:
    print(json.dumps(plan.record, indent=2) if as_json else plan.table)
    return 0


def _cmd_plan_accuracy(args: argparse.Namespace) -> int:
    import re

    from validation.exceptions import ConfigError
    from validation.planning import accuracy_plan

    metric = "sensitivity" if args.sensitivity is not None else "specificity"
    if args.goal is None and args.power is not None:
        raise ConfigError(
            "--power applies only with --goal (a performance goal to clear); a precision "
            "design (--half-width) has no power."
        )
    try:
        plan = accuracy_plan(
            args.sensitivity if metric == "sensitivity" else args.specificity,
            metric=metric,
            lower_bound=args.goal,
            half_width=args.half_width,
            prevalence=args.prevalence,
            power=args.power,
            confidence=args.confidence,
        )
    except (TypeError, ValueError) as exc:
        message = _option_names(str(exc), _PLAN_OPTIONS)
        message = re.sub(r"\bexpected(?= must|=| \(the goal)", f"--{metric}", message)
        raise ConfigError(message) from exc
    return _print_plan(plan, args.json)


def _cmd_plan_agreement(args: argparse.Namespace) -> int:
    from validation.exceptions import ConfigError
    from validation.planning import agreement_plan

    try:
        plan = agreement_plan(
            args.mean_diff,
            args.sd_diff,
            args.delta,
            confidence=args.confidence,
            power=args.power,
            loa_multiplier=args.loa_multiplier,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(_option_names(str(exc), _PLAN_OPTIONS)) from exc
    return _print_plan(plan, args.json)


def _cmd_keys_generate(args: argparse.Namespace) -> int:
    from validation.federated.keys import generate_keys, key_id, load_public_key

    key, pub = generate_keys(args.site, args.out, overwrite=args.force)
    print(f"site {args.site}: private key {key} (keep it at the site, mode 0600)")
    print(f"  public key {pub}: register it at the coordinating centre as <keys>/{pub.name}")
    print(f"  key id {key_id(load_public_key(pub))}")
    _audit(args, "keys-generate", [], [pub], {"site": args.site})
    return 0


def _registered(args: argparse.Namespace):
    """The study's sites and the public keys registered for them (``--sites``, ``--keys``)."""
    from validation.federated.keys import registered_keys
    from validation.sites import load_sites, site_files

    sites = load_sites(site_files(args.sites))
    return sites, registered_keys(args.keys, [s.id for s in sites])


def _cmd_bundle_export(args: argparse.Namespace) -> int:
    from validation.federated.bundle import export_bundle

    manifest = export_bundle(args.site, args.protocol, args.results, args.key, args.out)
    files = manifest["files"]
    log.info(
        "bundle %s: site %s, %d files, signed by key %s…",
        args.out,
        manifest["site"]["id"],
        len(files),
        manifest["signer_key_id"][:16],
    )
    for entry in manifest["withheld"]:
        log.info("withheld %(file)s column %(column)s: %(reason)s", entry)
    _audit(
        args,
        "bundle-export",
        [args.site, args.protocol, *(Path(args.results) / f["path"] for f in files)],
        [args.out],
        {
            "site": manifest["site"]["id"],
            "signer_key_id": manifest["signer_key_id"],
            "files": len(files),
            "withheld": manifest["withheld"],
        },
    )
    return 0


def _cmd_bundle_verify(args: argparse.Namespace) -> int:
    from validation.federated.pool import check_bundles

    sites, keys = _registered(args)
    verdicts = check_bundles(args.bundles, protocol_path=args.protocol, keys=keys, sites=sites)
    for verdict in verdicts:
        if (refusal := verdict.refusal) is not None:
            print(f"{verdict.path}: REFUSED (site {refusal.site or '?'}): {refusal.reason}")
            continue
        bundle = verdict.bundle
        print(
            f"{verdict.path}: OK site {bundle.site}, signed by key {bundle.key_id[:16]}… "
            f"(registered for {bundle.site}), {len(bundle.members)} files, protocol sha256 "
            f"{bundle.manifest['protocol']['sha256'][:16]}…"
        )
    records = [verdict.record() for verdict in verdicts]
    _audit(args, "bundle-verify", [args.protocol, *args.bundles], [], {"bundles": records})
    refused = [verdict.refusal for verdict in verdicts if verdict.refusal is not None]
    if refused:
        raise refused[0]
    return 0


def _cmd_bundle_pool(args: argparse.Namespace) -> int:
    from validation.exceptions import AnalysisError, BundleError
    from validation.federated.pool import pool_bundles

    sites, keys = _registered(args)
    try:
        results = pool_bundles(
            args.bundles,
            protocol_path=args.protocol,
            keys=keys,
            sites=sites,
            out=args.out,
            accounting_out=args.accounting_out,
        )
    except (BundleError, AnalysisError) as exc:  # the refusal is on the record too
        _audit(args, "federated-pool", [args.protocol, *args.bundles], [], {"refused": str(exc)})
        raise
    files = AnalysisFiles(args.out, accounting=args.accounting_out)
    record = results["data"]["bundles"]
    _audit(
        args,
        "federated-pool",
        [args.protocol, *args.bundles],
        [
            files.results,
            files.studies,
            files.manifest,
            files.bundles,
            *filter(None, [files.accounting]),
        ],
        {
            "overall_verdict": results["overall_verdict"],
            "lock": results["lock"]["status"],
            "bundles": [{k: b[k] for k in ("site", "sha256", "signer_key_id")} for b in record],
        },
    )
    for entry in record:
        log.info(
            "pooled %s from %s (signed by %s…)",
            entry["site"],
            entry["bundle"],
            entry["signer_key_id"][:16],
        )
    for endpoint in results["endpoints"]:
        log.info("%-40s %s", endpoint["label"], endpoint["verdict"])
    log.info("overall: %s; results in %s", results["overall_verdict"], Path(files.results))
    return 0


def _audit(args: argparse.Namespace, stage: str, inputs, outputs, details=None) -> None:
    """Append this stage to the audit trail when ``--audit`` names one."""
    if getattr(args, "audit", None):
        from validation.audit import append

        append(args.audit, stage, inputs=inputs, outputs=outputs, details=details)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mval",
        description="Multi-site prospective validation of medical-imaging AI: each subcommand is "
        "one stage of the Snakemake workflow.",
    )
    parser.add_argument("--version", action="version", version=f"mval {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the synthetic demo study and demo model")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    gen = demo_sub.add_parser(
        "generate", help="write the demo's DICOM partitions and reference files"
    )
    demo_out = config_default("demo.out")
    gen.add_argument("--sites", default="sites", help="folder of site files (default: sites)")
    gen.add_argument(
        "--out", default=demo_out, help=f"folder for the demo summary (default: {demo_out})"
    )
    gen.add_argument(
        "--n-studies",
        type=int,
        default=config_default("demo.n_studies"),
        help="test studies in all (default: %(default)s)",
    )
    gen.add_argument("--seed", type=int, default=config_default("demo.seed"))
    gen.set_defaults(func=_cmd_demo_generate)
    pm = demo_sub.add_parser(
        "postmarket",
        help="write the post-market demo: monthly production batches, late labels, a planted shift",
    )
    pm.add_argument("--sites", default="sites", help="folder of site files (default: sites)")
    pm.add_argument(
        "--out",
        default=postmarket_folder(demo_out),
        help="folder for batches/, labels/ and scenario.json (default: %(default)s)",
    )
    pm.add_argument(
        "--months",
        type=int,
        default=config_default("demo.postmarket.months"),
        help="months from 2026-07 (default: %(default)s)",
    )
    pm.add_argument(
        "--studies-per-month",
        type=int,
        default=config_default("demo.postmarket.studies_per_month"),
        help="studies per site x vendor partition and month (default: %(default)s)",
    )
    pm.add_argument(
        "--audit-fraction",
        type=float,
        default=config_default("demo.postmarket.audit_fraction"),
        help="share of each month's studies whose reference reading arrives 1-3 months later "
        "(default: %(default)s)",
    )
    pm.add_argument("--seed", type=int, default=config_default("demo.seed"))
    pm.add_argument("--jobs", type=int, default=1, help="months written in parallel (default: 1)")
    planted = pm.add_mutually_exclusive_group()
    shift = ", ".join(f"{k}: {v}" for k, v in config_default("demo.postmarket.shift").items())
    planted.add_argument(
        "--shift",
        help=f"planted software upgrade as YAML, e.g. '{{{shift}}}' (the default; month is "
        "1-based, missing keys take these values)",
    )
    planted.add_argument(
        "--no-shift", action="store_true", help="no planted shift: an in-control history"
    )
    pm.set_defaults(func=_cmd_demo_postmarket)
    ex = demo_sub.add_parser(
        "exports",
        help="re-encode a grey study into the export forms of clinical echo systems (dcmtk)",
    )
    ex.add_argument("--source", required=True, help="a grey demo study (DICOM file)")
    ex.add_argument("--out", required=True, help="folder for <form>.dcm (one per form)")
    ex.add_argument("--forms", nargs="+", help="the forms to write (default: all)")
    ex.set_defaults(func=_cmd_demo_exports)
    tr = demo_sub.add_parser("train-model", help="train the demo model on the development cohort")
    tr.add_argument(
        "--version",
        default="1.0.0",
        help="version recorded in the model card (default: 1.0.0, the released version); "
        "any other version records a change block against 1.0.0 (its card next to --out)",
    )
    tr.add_argument("--out", default=None, help=f"default: {MODEL_DIR}/<version>")
    tr.add_argument(
        "--vendors",
        default=None,
        help="comma-separated training vendors, e.g. GE,Philips,Siemens,Canon; their studies "
        "come from the development sites only (default: the released version's GE,Philips,Siemens)",
    )
    tr.add_argument("--n-studies", type=int, default=3000)
    tr.add_argument("--epochs", type=int, default=14)
    tr.add_argument("--seed", type=int, default=20240611)
    tr.add_argument("--threads", type=int, default=2)
    tr.set_defaults(func=_cmd_demo_train)

    proto = sub.add_parser("protocol", help="check a protocol against its schema")
    proto.add_argument("action", choices=["check"])
    proto.add_argument("protocol")
    proto.set_defaults(func=_cmd_protocol_check)

    study = sub.add_parser(
        "study",
        help="check the whole study before a run",
    )
    study_sub = study.add_subparsers(dest="study_command", required=True, metavar="ACTION")
    sc = study_sub.add_parser(
        "check",
        help="check protocol, site files, partition sources, reference files and model cards",
        description="Check, in seconds and without reading images or running a model, the "
        "protocol, every site file, every partition source (folder or DICOMweb server), every "
        "sealed reference file (columns after the site's mapping, keys, values; no value is "
        "printed) and every locked model card and weights sha256. Lists every problem as "
        "<file>:<line>: <field>: <message>; exits 2 if any is an error (warnings do not fail).",
    )
    sc.add_argument("--config", help="workflow config, e.g. config/config.yaml (also checked)")
    sc.add_argument("--protocol", help="protocol file (default: the config's)")
    sc.add_argument("--sites", help="folder of site files (default: the config's)")
    sc.add_argument(
        "--site",
        action="append",
        metavar="ID",
        help="check only this site's partitions and reference file (repeatable; every site "
        "file is still checked): a federated site has only its own data",
    )
    sc.add_argument("--out", help="write the check's record (JSON) here")
    sc.add_argument("--json", action="store_true", help="print the record as JSON")
    sc.add_argument(
        "--timeout", type=float, default=10.0, help="seconds a DICOMweb server has to answer"
    )
    sc.set_defaults(func=_cmd_study_check)

    ing = sub.add_parser("ingest", help="account for every file of one site × vendor partition")
    ing.add_argument("--site", required=True, help="site file, e.g. sites/s01.yaml")
    ing.add_argument("--vendor", required=True, help="the partition's vendor, e.g. GE")
    ing.add_argument("--out", required=True, help="folder for accounting.csv and manifest.json")
    ing.add_argument(
        "--protocol",
        help="read images by the rules of the protocol's locked models (their model cards' "
        "inputs: colour, fewest frames, several regions; the protocol's spacing sources); "
        "without it, the default rules",
    )
    ing.set_defaults(func=_cmd_ingest)

    inf = sub.add_parser("infer", help="run a locked model version over one partition")
    inf.add_argument("--protocol", required=True)
    inf.add_argument(
        "--model-version",
        help="which of the protocol's locked versions to run (default: the released one)",
    )
    inf.add_argument("--accounting", required=True, help="the partition's accounting.csv")
    inf.add_argument("--out", required=True, help="predictions CSV to write")
    _inference_options(inf)
    _draft_option(inf)
    inf.set_defaults(func=_cmd_infer)

    mdl = sub.add_parser("model", help="model versions: record their digests in the card")
    mdl_sub = mdl.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    reg = mdl_sub.add_parser(
        "register",
        help="compute a model's weights sha256 and state digest; fill the ones its card lacks",
        description="Compute the weights file's sha256 and the state digest of its tensors "
        "(docs/models.md), fill the ones model-card.yaml lacks and verify the ones it records. "
        "A recorded digest that differs from the weights' is refused (exit code 5), never "
        "overwritten.",
    )
    reg.add_argument("model_dir", help="the model version's folder (model-card.yaml, weights)")
    reg.add_argument(
        "--check",
        action="store_true",
        help="write nothing: verify the recorded digests; a missing one is an error (exit 5)",
    )
    reg.set_defaults(func=_cmd_model_register)
    ana = sub.add_parser("analyze", help="unblind and compute the pre-specified analysis")
    ana.add_argument("--protocol", required=True)
    ana.add_argument("--sites", default="sites")
    ana.add_argument("--accounting", nargs="+", required=True)
    ana.add_argument(
        "--predictions", nargs="+", required=True, help="the released version's predictions"
    )
    ana.add_argument(
        "--candidate",
        nargs="+",
        action="append",
        default=[],
        metavar=("VERSION", "PREDICTIONS"),
        help="a candidate version and its predictions CSVs (repeat per candidate): analysed "
        "like the released version and compared with it on the same studies",
    )
    ana.add_argument("--out", required=True, help="analysis folder (results.json, analysed.csv)")
    ana.add_argument("--accounting-out", help="merged accounting.csv of all partitions")
    _draft_option(ana)
    ana.set_defaults(func=_cmd_analyze)

    srp = sub.add_parser("sr", help="write each predicted study's result as a DICOM SR (TID 1500)")
    srp.add_argument("--protocol", required=True)
    srp.add_argument("--predictions", required=True, help="the partition's predictions CSV")
    srp.add_argument("--accounting", required=True, help="the partition's accounting.csv")
    srp.add_argument("--out", required=True, help="folder for the SRs and their index.csv")
    srp.add_argument("--stow", metavar="URL", help="also store the SRs at this DICOMweb URL")
    srp.set_defaults(func=_cmd_sr)

    rep = sub.add_parser("report", help="render the evidence report (PDF and HTML)")
    rep.add_argument("--results", required=True, help="results.json of the analysis")
    rep.add_argument("--out", required=True, help="PDF to write; the HTML goes beside it")
    rep.add_argument("--kind", choices=REPORT_KINDS, default=config_default("reports")[0])
    rep.set_defaults(func=_cmd_report)
    lk = sub.add_parser(
        "lock",
        help="lock a protocol and its model before unblinding (or --verify the lock)",
        description="Write protocols/<id>.lock.json: the sha256 of the protocol and the model "
        "weights, the preprocessing, the software version and the UTC time. A lock is never "
        "overwritten.",
    )
    lk.add_argument("protocol")
    lk.add_argument("--verify", action="store_true", help="check the files against the lock")
    lk.add_argument("--out", help="with --verify: write the lock status (JSON) here")
    _draft_option(lk)
    lk.set_defaults(func=_cmd_lock)

    mon = sub.add_parser(
        "monitor",
        help="post-market surveillance: process a month of production, then watch for drift",
    )
    mon_sub = mon.add_subparsers(dest="monitor_command", required=True, metavar="ACTION")
    mb = mon_sub.add_parser(
        "batch",
        help="ingest one month of production and run the locked model deployed at each site",
        description="Ingest every <source>/<month>/<site>/<vendor>/ folder (every file "
        "accounted for) and run on the included studies the locked model version each site "
        "runs that month (its site file's deployments, else the protocol's released version). "
        "Writes "
        "<out>/<site>/<vendor>/{accounting,predictions}.csv, <out>/batch.csv (one row per file) "
        "and <out>/batch.json; re-running a month replaces its folder.",
    )
    mb.add_argument("--month", required=True, help="the month, YYYY-MM")
    mb.add_argument(
        "--source", required=True, help="folder of monthly batches (<month>/<site>/<vendor>/)"
    )
    mb.add_argument("--sites", default="sites", help="folder of site files (default: sites)")
    mb.add_argument("--protocol", required=True, help="the protocol whose locked model reads")
    mb.add_argument("--out", required=True, help="the month's output folder")
    _inference_options(mb)
    _draft_option(mb)
    mb.set_defaults(func=_cmd_monitor_batch)
    mr = mon_sub.add_parser(
        "run",
        help="signals, alerts and report for every processed month against the frozen baseline",
        description="Freeze the baseline from the validation study on the first run (and verify "
        "its sha256 on every later one), compute the monthly signals per site x vendor segment "
        "and pooled, and write signals.csv, alerts.json, surveillance.json and the report. "
        f"Exit status: 0 without an alarm, {ALARM_EXIT} (or --alarm-exit-code) with one; "
        "errors keep their own codes.",
    )
    mr.add_argument("--protocol", required=True)
    mr.add_argument(
        "--baseline",
        required=True,
        help="the validation analysis folder (analysed.csv, results.json), e.g. "
        "results/demo/analysis",
    )
    mr.add_argument(
        "--baseline-accounting",
        help="the validation's merged ingest accounting (default: <baseline>/../ingest/"
        "accounting.csv)",
    )
    mr.add_argument("--batches", required=True, help="output folder of `mval monitor batch`")
    mr.add_argument(
        "--sites",
        help="folder of site files: their `deployments` say which locked model version each "
        "site ran each month (without it, every site runs the protocol's released version)",
    )
    mr.add_argument("--labels", help="folder of late labels, <YYYY-MM>.csv by arrival month")
    mr.add_argument("--out", required=True, help="e.g. results/demo/surveillance")
    mr.add_argument("--as-of", help="evaluate as of this month, YYYY-MM (default: the last batch)")
    surveillance_help = {
        "familywise_alpha": "probability of any false alarm over all segments, signals and the "
        "horizon",
        "arl0_months": "minimum in-control average run length of each chart",
        "horizon_months": "horizon of the false-alarm statement",
        "min_shift": "a mean-output alarm also needs a shift of at least this many mm",
        "min_rate_change": "a positive-rate alarm also needs a change of at least this much",
        "bias_weight": "weight of each audited-bias stream in the weighted Bonferroni split, "
        "every other stream 1",
        "label_delay_months": "longest expected delay of an audited study's reference reading; "
        "the audited-bias limit is calibrated for delays up to it",
    }
    for name in SURVEILLANCE_OPTIONS:  # the config's `surveillance` settings, same defaults
        default = config_default(f"surveillance.{name}")
        mr.add_argument(
            "--" + name.replace("_", "-"),
            type=type(default),
            default=default,
            help=f"{surveillance_help[name]} (default: {default:g})",
        )
    mr.add_argument(
        "--alarm-exit-code",
        type=int,
        default=ALARM_EXIT,
        help=f"exit status when an alarm is raised (default: {ALARM_EXIT}; the workflow passes 0)",
    )
    mr.add_argument(
        "--no-report",
        action="store_true",
        help="skip the PDF/HTML report (surveillance.json and alerts.json are still written)",
    )
    mr.set_defaults(func=_cmd_monitor_run)

    au = sub.add_parser("audit", help="verify the hash-chained audit trail")
    au.add_argument("action", choices=["verify"])
    au.add_argument("log", help="e.g. results/demo/audit.jsonl")
    au.set_defaults(func=_cmd_audit)

    pl = sub.add_parser(
        "plan",
        help="sample size for a validation study (diagnostic accuracy or agreement)",
        description="Sample size before the study: cases and total for a sensitivity or "
        "specificity, or pairs for Bland-Altman agreement. Bad values exit with code 2.",
    )
    pl_sub = pl.add_subparsers(dest="plan_command", required=True, metavar="DESIGN")
    acc = pl_sub.add_parser(
        "accuracy",
        help="sensitivity or specificity: against a goal (--goal) or to a precision (--half-width)",
        description="With --goal: cases so that the lower limit of the two-sided confidence "
        "interval clears the goal with the given power (exact binomial and normal "
        "approximation). With --half-width: cases so that the interval is at most that wide on "
        "either side (Buderer 1996). The total divides by the prevalence (sensitivity) or by "
        "1 - prevalence (specificity).",
    )
    which = acc.add_mutually_exclusive_group(required=True)
    which.add_argument("--sensitivity", type=float, metavar="P", help="expected sensitivity")
    which.add_argument("--specificity", type=float, metavar="P", help="expected specificity")
    aim = acc.add_mutually_exclusive_group(required=True)
    aim.add_argument("--goal", type=float, metavar="P", help="performance goal to clear")
    aim.add_argument("--half-width", type=float, metavar="D", help="CI half-width, e.g. 0.05")
    acc.add_argument(
        "--prevalence",
        type=float,
        help="expected prevalence of the condition (default: a sample of cases only)",
    )
    acc.add_argument("--power", type=float, help="with --goal (default: 0.8)")
    acc.add_argument("--confidence", type=float, default=0.95, help="two-sided (default: 0.95)")
    acc.add_argument("--json", action="store_true", help="print JSON instead of a table")
    acc.set_defaults(func=_cmd_plan_accuracy)
    agr = pl_sub.add_parser(
        "agreement",
        help="Bland-Altman: pairs so that both limits of agreement are shown within ±delta",
        description="Pairs so that the confidence intervals of both limits of agreement fall "
        "within ±delta with the given power (Lu et al. 2016, approximate intervals).",
    )
    agr.add_argument("--mean-diff", type=float, default=0.0, help="expected bias (default: 0)")
    agr.add_argument("--sd-diff", type=float, required=True, help="expected SD of differences")
    agr.add_argument("--delta", type=float, required=True, help="clinical agreement margin")
    agr.add_argument("--power", type=float, default=0.8, help="(default: 0.8)")
    agr.add_argument("--confidence", type=float, default=0.95, help="two-sided (default: 0.95)")
    agr.add_argument("--loa-multiplier", type=float, default=1.96, help="(default: 1.96)")
    agr.add_argument("--json", action="store_true", help="print JSON instead of a table")
    agr.set_defaults(func=_cmd_plan_agreement)

    keys = sub.add_parser("keys", help="federated mode: a site's signing key pair")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    kg = keys_sub.add_parser(
        "generate", help="write <site>.key (private, mode 0600) and <site>.pub (to register)"
    )
    kg.add_argument("--site", required=True, help="the site id, e.g. s01")
    kg.add_argument("--out", required=True, help="folder for the key files")
    kg.add_argument("--force", action="store_true", help="replace existing key files")
    kg.set_defaults(func=_cmd_keys_generate)

    bun = sub.add_parser(
        "bundle", help="federated mode: signed site bundles (export, verify, pool)"
    )
    bun_sub = bun.add_subparsers(dest="bundle_command", required=True, metavar="ACTION")
    bx = bun_sub.add_parser(
        "export", help="at a site: write its signed bundle (no pixels, no identifying headers)"
    )
    bx.add_argument("--site", required=True, help="the site file, e.g. sites/s01.yaml")
    bx.add_argument("--protocol", required=True, help="the locked protocol")
    bx.add_argument("--results", required=True, help="the site's results/<protocol> folder")
    bx.add_argument("--key", required=True, help="the site's private key (mval keys generate)")
    bx.add_argument("--out", required=True, help="bundle file to write, e.g. s01.bundle")
    bx.set_defaults(func=_cmd_bundle_export)
    bv = bun_sub.add_parser(
        "verify", help="at the coordinating centre: check signatures, lock and content"
    )
    bp = bun_sub.add_parser(
        "pool",
        help="at the coordinating centre: verify every bundle, then run the analysis on them",
    )
    for action in (bv, bp):
        action.add_argument("bundles", nargs="+", help="bundle files, one per site")
        action.add_argument("--protocol", required=True, help="the centre's locked protocol")
        action.add_argument("--sites", default="sites", help="folder of the study's site files")
        action.add_argument(
            "--keys", required=True, help="folder of registered public keys, <site>.pub"
        )
    bv.set_defaults(func=_cmd_bundle_verify)
    bp.add_argument("--out", required=True, help="analysis folder (results.json, analysed.csv)")
    bp.add_argument("--accounting-out", help="merged accounting.csv of all partitions")
    bp.set_defaults(func=_cmd_bundle_pool)

    for stage in (sc, ing, inf, reg, ana, srp, rep, lk, mb, mr, kg, bx, bv, bp):
        stage.add_argument("--audit", help="append this stage to this audit trail (JSON lines)")
    return parser


def _inference_options(parser: argparse.ArgumentParser) -> None:
    """``--batch-size`` and ``--threads``, defaults as the config's ``inference`` block."""
    for name in ("batch_size", "threads"):
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int, default=config_default(f"inference.{name}")
        )


def _draft_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-unlocked",
        action="store_true",
        help="go on without a valid lock; the results and report are marked DRAFT",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.func(args)
    except ValidationToolkitError as exc:
        print(f"mval {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
