# Verify the lock once, ingest once per site x vendor partition, infer once per partition x locked
# model version (separate jobs, run in parallel; every version reads the same ingested partition),
# then unblind and analyse once (each candidate also compared with the released version on the same
# studies), and render the reports. Every stage appends to the hash-chained audit trail.


# On a cluster these run on the submit node, not as Slurm jobs: the lock check only hashes a few
# files (seconds) and gates every inference; a report renders one PDF in seconds.
localrules:
    lock_check,
    report,


rule lock_check:
    input:
        protocol=config["protocol"],
        locked=wf.lock_inputs(config),
    output:
        f"{RESULTS}/lock/lock-status.json",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/lock-check.log",
    resources:
        mem_mb=512,
        runtime=5,
    params:
        draft=wf.draft_flag(config),
        audit=wf.audit_path(config),
    shell:
        "mval lock {input.protocol} --verify --out {output} {params.draft} "
        "--audit {params.audit} > {log} 2>&1"


rule ingest:
    input:
        site=lambda wildcards: wf.site_file(config, wildcards.site),
        demo=wf.demo_inputs(config),
    output:
        accounting=f"{RESULTS}/ingest/{{site}}/{{vendor}}/accounting.csv",
        manifest=f"{RESULTS}/ingest/{{site}}/{{vendor}}/manifest.json",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/ingest/{{site}}/{{vendor}}.log",
    resources:
        mem_mb=512,
        runtime=30,
    params:
        out=lambda wildcards, output: wf.parent(output.accounting),
        audit=wf.audit_path(config),
    shell:
        "mval ingest --site {input.site} --vendor {wildcards.vendor} --out {params.out} "
        "--audit {params.audit} > {log} 2>&1"


rule infer:
    input:
        accounting=f"{RESULTS}/ingest/{{site}}/{{vendor}}/accounting.csv",
        lock=f"{RESULTS}/lock/lock-status.json",
        protocol=config["protocol"],
        model=lambda wildcards: wf.model_files(config, wildcards.version),
    output:
        f"{RESULTS}/predictions/{{version}}/{{site}}/{{vendor}}.csv",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/infer/{{version}}/{{site}}/{{vendor}}.log",
    resources:
        mem_mb=2048,
        runtime=60,
    threads: config.get("inference", {}).get("threads", 1)
    params:
        batch=config.get("inference", {}).get("batch_size", 16),
        draft=wf.draft_flag(config),
        audit=wf.audit_path(config),
    shell:
        "mval infer --protocol {input.protocol} --model-version {wildcards.version} "
        "--accounting {input.accounting} --out {output} "
        "--batch-size {params.batch} --threads {threads} {params.draft} "
        "--audit {params.audit} > {log} 2>&1"


rule analyze:
    input:
        accounting=wf.all_accounting(config),
        predictions=wf.all_predictions(config),
        candidates=wf.all_candidate_predictions(config),
        protocol=config["protocol"],
        lock=f"{RESULTS}/lock/lock-status.json",
    output:
        results=f"{RESULTS}/analysis/results.json",
        studies=f"{RESULTS}/analysis/analysed.csv",
        manifest=f"{RESULTS}/analysis/manifest.json",
        accounting=f"{RESULTS}/ingest/accounting.csv",
        candidates=wf.candidate_analysed(config),
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/analyze.log",
    resources:
        mem_mb=2048,
        runtime=60,
    params:
        sites=config["sites"],
        out=lambda wildcards, output: wf.parent(output.results),
        draft=wf.draft_flag(config),
        candidates=wf.candidate_options(config),
        audit=wf.audit_path(config),
    shell:
        "mval analyze --protocol {input.protocol} --sites {params.sites} "
        "--accounting {input.accounting} --predictions {input.predictions} {params.candidates} "
        "--out {params.out} --accounting-out {output.accounting} {params.draft} "
        "--audit {params.audit} > {log} 2>&1"


rule report:
    input:
        results=f"{RESULTS}/analysis/results.json",
        studies=f"{RESULTS}/analysis/analysed.csv",
        manifest=f"{RESULTS}/analysis/manifest.json",
    output:
        pdf=f"{RESULTS}/report/{{kind}}.pdf",
        html=f"{RESULTS}/report/{{kind}}.html",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/report-{{kind}}.log",
    resources:
        mem_mb=1024,
        runtime=30,
    params:
        audit=wf.audit_path(config),
    shell:
        "mval report --results {input.results} --out {output.pdf} --kind {wildcards.kind} "
        "--audit {params.audit} > {log} 2>&1"


rule sr:
    input:
        predictions=lambda wildcards: wf.predictions_path(config, wildcards.site, wildcards.vendor),
        accounting=f"{RESULTS}/ingest/{{site}}/{{vendor}}/accounting.csv",
        protocol=config["protocol"],
    output:
        f"{RESULTS}/sr/{{site}}/{{vendor}}/index.csv",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/sr/{{site}}/{{vendor}}.log",
    resources:
        mem_mb=1024,
        runtime=30,
    params:
        out=lambda wildcards, output: wf.parent(output[0]),
        stow=lambda wildcards: wf.stow_option(config, wildcards.site, wildcards.vendor),
        audit=wf.audit_path(config),
    shell:
        "mval sr --protocol {input.protocol} --predictions {input.predictions} "
        "--accounting {input.accounting} --out {params.out} {params.stow} "
        "--audit {params.audit} > {log} 2>&1"
