# Prospective multi-site validation workflow: demo data -> ingest and infer per site x vendor
# partition -> unblind and analyse -> evidence report. Every rule shells out to the `mval` CLI
# (the one next to the Python running Snakemake, put first on the jobs' PATH, so that
# `.venv/bin/snakemake` needs no activated environment); all statistics and path logic live in the `validation` package: every path under
# results/<protocol>/ comes from LAYOUT (validation.workflow.Layout), every config value from the
# config as check_config fills it in from its schema's defaults.
#
# Without --configfile the demo study's config/config.yaml is read; a study's own config
# (--configfile study.yaml) stands alone, so the demo runs only if it says demo: {enabled: true}.
from snakemake.utils import min_version

from validation import workflow as wf

min_version("8.20")


for demo_config in wf.default_configfiles(workflow.overwrite_configfiles):

    configfile: demo_config


wf.check_config(config, source="workflow config (with --config overrides)")
LAYOUT = wf.layout(config)
wf.put_mval_on_path()


wildcard_constraints:
    site="[a-z0-9][a-z0-9_-]*",
    vendor="[A-Za-z0-9][A-Za-z0-9_-]*",
    kind="|".join(wf.REPORT_KINDS),
    version="[0-9A-Za-z][0-9A-Za-z._-]*",


if wf.demo_enabled(config):  # a study's own config never has the demo's rules

    include: "rules/demo.smk"
    include: "rules/postmarket.smk"


include: "rules/validation.smk"
include: "rules/surveillance.smk"
include: "rules/federated.smk"


rule all:
    default_target: True
    input:
        wf.report_paths(config),
        wf.all_sr_indexes(config),
        LAYOUT.analysis.results,
