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
        lock=f"{RESULTS}/lock/lock-status.json",
        model=wf.all_model_files(config),
        sites=wf.all_site_files(config),
    output:
        batch=f"{RESULTS}/surveillance/batches/{{month}}/batch.csv",
        summary=f"{RESULTS}/surveillance/batches/{{month}}/batch.json",
    wildcard_constraints:
        month=r"\d{4}-(0[1-9]|1[0-2])",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/surveillance/batch-{{month}}.log",
    resources:
        mem_mb=2048,
        runtime=60,
    threads: config.get("inference", {}).get("threads", 1)
    params:
        source=wf.surveillance_source(config),
        sites=lambda wildcards, input: wf.parent(input.sites[0]),
        out=lambda wildcards, output: wf.parent(output.batch),
        batch=config.get("inference", {}).get("batch_size", 16),
        draft=wf.draft_flag(config),
        audit=wf.audit_path(config),
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
        results=f"{RESULTS}/analysis/results.json",
        studies=f"{RESULTS}/analysis/analysed.csv",
        candidates=wf.candidate_analysed(config),
        accounting=f"{RESULTS}/ingest/accounting.csv",
        sites=wf.all_site_files(config),
    output:
        signals=f"{RESULTS}/surveillance/signals.csv",
        alerts=f"{RESULTS}/surveillance/alerts.json",
        surveillance=f"{RESULTS}/surveillance/surveillance.json",
        pdf=f"{RESULTS}/surveillance/surveillance-report.pdf",
        html=f"{RESULTS}/surveillance/surveillance-report.html",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/surveillance/run.log",
    resources:
        mem_mb=4096,
        runtime=60,
    params:
        baseline=lambda wildcards, input: wf.parent(input.results),
        batches=lambda wildcards, output: f"{wf.parent(output.alerts)}/batches",
        labels=wf.surveillance_labels(config),
        sites=lambda wildcards, input: wf.parent(input.sites[0]),
        out=lambda wildcards, output: wf.parent(output.alerts),
        options=wf.surveillance_options(config),
        audit=wf.audit_path(config),
    shell:
        "mval monitor run --protocol {input.protocol} --baseline {params.baseline} "
        "--baseline-accounting {input.accounting} --batches {params.batches} "
        "--sites {params.sites} --labels {params.labels} --out {params.out} {params.options} "
        "--alarm-exit-code 0 --audit {params.audit} > {log} 2>&1"
