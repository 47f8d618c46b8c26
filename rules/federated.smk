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
        lock=LAYOUT.lock_status,
        data=lambda wildcards: fed.site_bundle_inputs(config, wildcards.site),
        key=lambda wildcards: fed.site_key(config, wildcards.site),
    output:
        LAYOUT.federated.bundle(),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("site_bundle"),
    resources:
        mem_mb=1024,
        runtime=15,
    params:
        results=lambda wildcards, input: wf.results_of(input.lock),
        audit=LAYOUT.audit,
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
        lock=LAYOUT.lock_status,
    output:
        results=LAYOUT.federated.analysis.results,
        studies=LAYOUT.federated.analysis.studies,
        manifest=LAYOUT.federated.analysis.manifest,
        bundles=LAYOUT.federated.analysis.bundles,
        accounting=LAYOUT.federated.analysis.accounting,
        candidates=fed.candidate_analysed(config),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("federated_pool"),
    resources:
        mem_mb=2048,
        runtime=60,
    params:
        sites=lambda wildcards, input: wf.parent(input.site_files[0]),
        key_folder=lambda wildcards, input: wf.parent(input.registered[0]),
        out=lambda wildcards, output: wf.parent(output.results),
        audit=LAYOUT.audit,
    shell:
        "mval bundle pool {input.bundles} --protocol {input.protocol} --sites {params.sites} "
        "--keys {params.key_folder} --out {params.out} --accounting-out {output.accounting} "
        "--audit {params.audit} > {log} 2>&1"


rule federated_report:
    input:
        results=LAYOUT.federated.analysis.results,
        studies=LAYOUT.federated.analysis.studies,
        manifest=LAYOUT.federated.analysis.manifest,
    output:
        pdf=LAYOUT.federated.reports.pdf(),
        html=LAYOUT.federated.reports.html(),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("federated_report"),
    resources:
        mem_mb=1024,
        runtime=30,
    params:
        audit=LAYOUT.audit,
    shell:
        "mval report --results {input.results} --out {output.pdf} --kind {wildcards.kind} "
        "--audit {params.audit} > {log} 2>&1"


rule federated:
    input:
        LAYOUT.federated.analysis.results,
        fed.report_paths(config),
