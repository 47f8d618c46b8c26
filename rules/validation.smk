# Ingest and infer once per site x vendor partition (separate jobs, run in parallel),
# then one analysis and the reports.


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
    params:
        out=lambda wildcards, output: wf.parent(output.accounting),
    shell:
        "mval ingest --site {input.site} --vendor {wildcards.vendor} --out {params.out} > {log} 2>&1"


rule infer:
    input:
        accounting=f"{RESULTS}/ingest/{{site}}/{{vendor}}/accounting.csv",
        protocol=config["protocol"],
        model=wf.model_files(config),
    output:
        f"{RESULTS}/predictions/{{site}}/{{vendor}}.csv",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/infer/{{site}}/{{vendor}}.log",
    threads: config.get("inference", {}).get("threads", 1)
    params:
        batch=config.get("inference", {}).get("batch_size", 16),
    shell:
        "mval infer --protocol {input.protocol} --accounting {input.accounting} --out {output} "
        "--batch-size {params.batch} --threads {threads} > {log} 2>&1"


rule analyze:
    input:
        accounting=wf.all_accounting(config),
        predictions=wf.all_predictions(config),
        protocol=config["protocol"],
    output:
        results=f"{RESULTS}/analysis/results.json",
        studies=f"{RESULTS}/analysis/analysed.csv",
        accounting=f"{RESULTS}/ingest/accounting.csv",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/analyze.log",
    params:
        sites=config["sites"],
        out=lambda wildcards, output: wf.parent(output.results),
    shell:
        "mval analyze --protocol {input.protocol} --sites {params.sites} "
        "--accounting {input.accounting} --predictions {input.predictions} "
        "--out {params.out} --accounting-out {output.accounting} > {log} 2>&1"


rule report:
    input:
        f"{RESULTS}/analysis/results.json",
    output:
        pdf=f"{RESULTS}/report/{{kind}}.pdf",
        html=f"{RESULTS}/report/{{kind}}.html",
    conda:
        "envs/mval.yaml"
    log:
        f"{RESULTS}/logs/report-{{kind}}.log",
    shell:
        "mval report --results {input} --out {output.pdf} --kind {wildcards.kind} > {log} 2>&1"
