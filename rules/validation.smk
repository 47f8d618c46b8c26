# Check the study's files (protocol, sites, partition sources, reference files, model cards) in
# seconds before any ingestion, verify the lock once, ingest once per site x vendor partition,
# infer once per partition x locked model version (separate jobs, run in parallel; every version
# reads the same ingested partition), then unblind and analyse once (each candidate also compared with the released version on the same
# studies), and render the reports. Every stage appends to the hash-chained audit trail.


# On a cluster these run on the submit node, not as Slurm jobs: the study check reads no image
# and the lock check only hashes a few files (seconds each), and they gate every ingestion and
# inference; a report renders one PDF in seconds.
localrules:
    study_check,
    lock_check,
    report,


rule study_check:
    input:
        protocol=config["protocol"],
        sites=wf.all_site_files(config),
        references=wf.existing_reference_files(config),
        models=wf.all_model_files(config),
        demo=wf.demo_inputs(config),
    output:
        LAYOUT.study_check,
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("study_check"),
    resources:
        mem_mb=512,
        runtime=5,
    params:
        sites=lambda wildcards, input: wf.parent(input.sites[0]),
        only=wf.study_check_options(config),
        audit=LAYOUT.audit,
    shell:
        "mval study check --protocol {input.protocol} --sites {params.sites} {params.only} "
        "--out {output} --audit {params.audit} > {log} 2>&1"


rule lock_check:
    input:
        protocol=config["protocol"],
        locked=wf.lock_inputs(config),
    output:
        LAYOUT.lock_status,
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("lock_check"),
    resources:
        mem_mb=512,
        runtime=5,
    params:
        draft=wf.draft_flag(config),
        audit=LAYOUT.audit,
    shell:
        "mval lock {input.protocol} --verify --out {output} {params.draft} "
        "--audit {params.audit} > {log} 2>&1"


rule ingest:
    input:
        site=lambda wildcards: wf.site_file(config, wildcards.site),
        protocol=config["protocol"],
        cards=wf.model_cards(config),
        demo=wf.demo_inputs(config),
        checked=LAYOUT.study_check,
    output:
        accounting=LAYOUT.accounting(),
        manifest=LAYOUT.ingest_manifest(),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("ingest"),
    resources:
        mem_mb=512,
        runtime=30,
    params:
        out=lambda wildcards, output: wf.parent(output.accounting),
        audit=LAYOUT.audit,
    shell:
        "mval ingest --site {input.site} --vendor {wildcards.vendor} --out {params.out} "
        "--protocol {input.protocol} --audit {params.audit} > {log} 2>&1"


rule infer:
    input:
        accounting=LAYOUT.accounting(),
        lock=LAYOUT.lock_status,
        protocol=config["protocol"],
        model=lambda wildcards: wf.model_files(config, wildcards.version),
    output:
        LAYOUT.predictions(),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("infer"),
    resources:
        mem_mb=2048,
        runtime=60,
    threads: config["inference"]["threads"]
    params:
        batch=config["inference"]["batch_size"],
        draft=wf.draft_flag(config),
        audit=LAYOUT.audit,
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
        lock=LAYOUT.lock_status,
    output:
        results=LAYOUT.analysis.results,
        studies=LAYOUT.analysis.studies,
        manifest=LAYOUT.analysis.manifest,
        accounting=LAYOUT.analysis.accounting,
        candidates=wf.candidate_analysed(config),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("analyze"),
    resources:
        mem_mb=2048,
        runtime=60,
    params:
        sites=config["sites"],
        out=lambda wildcards, output: wf.parent(output.results),
        draft=wf.draft_flag(config),
        candidates=wf.candidate_options(config),
        audit=LAYOUT.audit,
    shell:
        "mval analyze --protocol {input.protocol} --sites {params.sites} "
        "--accounting {input.accounting} --predictions {input.predictions} {params.candidates} "
        "--out {params.out} --accounting-out {output.accounting} {params.draft} "
        "--audit {params.audit} > {log} 2>&1"


rule report:
    input:
        results=LAYOUT.analysis.results,
        studies=LAYOUT.analysis.studies,
        manifest=LAYOUT.analysis.manifest,
    output:
        pdf=LAYOUT.reports.pdf(),
        html=LAYOUT.reports.html(),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("report"),
    resources:
        mem_mb=1024,
        runtime=30,
    params:
        audit=LAYOUT.audit,
    shell:
        "mval report --results {input.results} --out {output.pdf} --kind {wildcards.kind} "
        "--audit {params.audit} > {log} 2>&1"


rule sr:
    input:
        predictions=LAYOUT.predictions(wf.released_version(config)),
        accounting=LAYOUT.accounting(),
        protocol=config["protocol"],
    output:
        LAYOUT.sr_index(),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("sr"),
    resources:
        mem_mb=1024,
        runtime=30,
    params:
        out=lambda wildcards, output: wf.parent(output[0]),
        stow=lambda wildcards: wf.stow_option(config, wildcards.site, wildcards.vendor),
        audit=LAYOUT.audit,
    shell:
        "mval sr --protocol {input.protocol} --predictions {input.predictions} "
        "--accounting {input.accounting} --out {params.out} {params.stow} "
        "--audit {params.audit} > {log} 2>&1"
