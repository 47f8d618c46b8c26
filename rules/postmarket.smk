# The post-market demo: monthly production batches, late-arriving labels and a planted scanner
# software upgrade (config `demo.postmarket`; surveillance reads it only when `demo.enabled`).


rule postmarket_demo:
    output:
        wf.postmarket_marker_path(config),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("postmarket_demo"),
    resources:
        mem_mb=2048,
        runtime=30,
    threads: workflow.cores
    params:
        sites=config["sites"],
        out=lambda wildcards, output: wf.parent(output[0]),
        months=wf.postmarket_settings(config)["months"],
        per_month=wf.postmarket_settings(config)["studies_per_month"],
        audit=wf.postmarket_settings(config)["audit_fraction"],
        seed=wf.postmarket_settings(config)["seed"],
        shift=wf.postmarket_shift_option(config),
    shell:
        "mval demo postmarket --sites {params.sites} --out {params.out} "
        "--months {params.months} --studies-per-month {params.per_month} "
        "--audit-fraction {params.audit} --seed {params.seed} {params.shift} "
        "--jobs {threads} > {log} 2>&1"
