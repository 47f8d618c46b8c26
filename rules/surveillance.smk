# Post-market surveillance: one job per production month (ingest + the locked model version each
# site runs that month, from its site file's `deployments`), then the target rule `surveillance`
# (signals against the frozen validation baseline of each deployed version, alerts, report):
#   snakemake --cores 8 surveillance
# An alarm is a result, not a failure: the rule passes --alarm-exit-code 0 and the alarm is in
# alerts.json and surveillance.json (a scheduler calling `mval monitor run` itself gets exit 10).


rule monitor_batch:
    input:
        demo=wf.postmarket_inputs(config),
        protocol=config["protocol"],
        lock=LAYOUT.lock_status,
        model=wf.all_model_files(config),
        sites=wf.all_site_files(config),
    output:
        batch=LAYOUT.surveillance.batch(),
        summary=LAYOUT.surveillance.batch_summary(),
    wildcard_constraints:
        month=r"\d{4}-(0[1-9]|1[0-2])",
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("monitor_batch"),
    resources:
        mem_mb=2048,
        runtime=60,
    threads: config["inference"]["threads"]
    params:
        source=wf.surveillance_source(config),
        sites=lambda wildcards, input: wf.parent(input.sites[0]),
        out=lambda wildcards, output: wf.parent(output.batch),
        batch=config["inference"]["batch_size"],
        draft=wf.draft_flag(config),
        audit=LAYOUT.audit,
    shell:
        "mval monitor batch --month {wildcards.month} --source {params.source} "
        "--sites {params.sites} --protocol {input.protocol} --out {params.out} "
        "--batch-size {params.batch} --threads {threads} {params.draft} "
        "--audit {params.audit} > {log} 2>&1"


rule surveillance:
    input:
        batches=wf.all_surveillance_batches(config),
        demo=wf.postmarket_inputs(config),
        protocol=config["protocol"],
        results=LAYOUT.analysis.results,
        studies=LAYOUT.analysis.studies,
        candidates=wf.candidate_analysed(config),
        accounting=LAYOUT.analysis.accounting,
        sites=wf.all_site_files(config),
    output:
        signals=LAYOUT.surveillance.signals,
        alerts=LAYOUT.surveillance.alerts,
        surveillance=LAYOUT.surveillance.record,
        pdf=LAYOUT.surveillance.report_pdf,
        html=LAYOUT.surveillance.report_html,
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("surveillance"),
    resources:
        mem_mb=4096,
        runtime=60,
    params:
        baseline=lambda wildcards, input: wf.parent(input.results),
        batches=lambda wildcards, output: wf.surveillance_files(output.alerts).batches,
        labels=wf.surveillance_labels(config),
        sites=lambda wildcards, input: wf.parent(input.sites[0]),
        out=lambda wildcards, output: wf.parent(output.alerts),
        options=wf.surveillance_options(config),
        audit=LAYOUT.audit,
    shell:
        "mval monitor run --protocol {input.protocol} --baseline {params.baseline} "
        "--baseline-accounting {input.accounting} --batches {params.batches} "
        "--sites {params.sites} --labels {params.labels} --out {params.out} {params.options} "
        "--alarm-exit-code 0 --audit {params.audit} > {log} 2>&1"
