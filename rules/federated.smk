# Federated mode (sites that may not send images out). At each site, the target rule
# `federated_site` runs the site's own partitions (lock check, ingest, infer by every locked
# version) and exports its signed bundle: no pixels, no identifying headers, no file paths:
#   snakemake --cores 8 federated_site --config 'federated={site: s01, key: keys/s01.key}'
# At the coordinating centre, the target rule `federated` verifies every site's bundle (signature
# with the key registered for the site, protocol and lock hashes, file hashes) and pools them
# with the same analysis and reports as a centralised run:
#   snakemake --cores 8 federated --config 'federated={keys: sites/keys, bundles: inbox}'
# A refused bundle stops the pooling (exit 11) with a message naming the bundle, site and reason.
from validation.federated import paths as fed


# On a cluster these run on the submit node (seconds each): export one site's bundle, render a
# report. Pooling runs the full analysis and goes to the scheduler.
localrules:
    site_bundle,
    federated_report,


rule site_bundle:
    input:
        site=lambda wildcards: wf.site_file(config, wildcards.site),
        protocol=config["protocol"],
        lock=f"{RESULTS}/lock/lock-status.json",
        data=lambda wildcards: fed.site_bundle_inputs(config, wildcards.site),
        key=lambda wildcards: fed.site_key(config, wildcards.site),
    output:
        f"{RESULTS}/federated/bundles/{{site}}.bundle",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/federated/bundle-{{site}}.log",
    resources:
        mem_mb=1024,
        runtime=15,
    params:
        results=lambda wildcards, input: fed.results_of(input.lock),
        audit=wf.audit_path(config),
    shell:
        "mval bundle export --site {input.site} --protocol {input.protocol} "
        "--results {params.results} --key {input.key} --out {output} "
        "--audit {params.audit} > {log} 2>&1"


rule federated_site:
    input:
        lambda wildcards: fed.this_site_bundle(config),


rule federated_pool:
    input:
        bundles=fed.received_bundles(config),
        registered=fed.registered_key_files(config),
        site_files=wf.all_site_files(config),
        protocol=config["protocol"],
        lock=f"{RESULTS}/lock/lock-status.json",
    output:
        results=f"{fed.analysis_dir(config)}/results.json",
        studies=f"{fed.analysis_dir(config)}/analysed.csv",
        manifest=f"{fed.analysis_dir(config)}/manifest.json",
        bundles=f"{fed.analysis_dir(config)}/bundles.json",
        accounting=f"{fed.analysis_dir(config)}/accounting.csv",
        candidates=fed.candidate_analysed(config),
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/federated/pool.log",
    resources:
        mem_mb=2048,
        runtime=60,
    params:
        sites=lambda wildcards, input: wf.parent(input.site_files[0]),
        key_folder=lambda wildcards, input: wf.parent(input.registered[0]),
        out=lambda wildcards, output: wf.parent(output.results),
        audit=wf.audit_path(config),
    shell:
        "mval bundle pool {input.bundles} --protocol {input.protocol} --sites {params.sites} "
        "--keys {params.key_folder} --out {params.out} --accounting-out {output.accounting} "
        "--audit {params.audit} > {log} 2>&1"


rule federated_report:
    input:
        results=f"{fed.analysis_dir(config)}/results.json",
        studies=f"{fed.analysis_dir(config)}/analysed.csv",
        manifest=f"{fed.analysis_dir(config)}/manifest.json",
    output:
        pdf=f"{RESULTS}/federated/report/{{kind}}.pdf",
        html=f"{RESULTS}/federated/report/{{kind}}.html",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/federated/report-{{kind}}.log",
    resources:
        mem_mb=1024,
        runtime=30,
    params:
        audit=wf.audit_path(config),
    shell:
        "mval report --results {input.results} --out {output.pdf} --kind {wildcards.kind} "
        "--audit {params.audit} > {log} 2>&1"


rule federated:
    input:
        f"{fed.analysis_dir(config)}/results.json",
        fed.report_paths(config),
