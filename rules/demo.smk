# The synthetic demo study (only when config `demo.enabled` is true).


rule demo:
    output:
        wf.demo_marker_path(config),
    conda:
        "envs/mval.yaml"
    log:
        LAYOUT.log("demo"),
    resources:
        mem_mb=1024,
        runtime=30,
    params:
        sites=config["sites"],
        out=lambda wildcards, output: wf.parent(output[0]),
        n=config["demo"]["n_studies"],
        seed=config["demo"]["seed"],
    shell:
        "mval demo generate --sites {params.sites} --out {params.out} "
        "--n-studies {params.n} --seed {params.seed} > {log} 2>&1"
