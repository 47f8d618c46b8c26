# Prospective multi-site validation workflow: demo data -> ingest and infer per site x vendor
# partition -> unblind and analyse -> evidence report. Every rule shells out to the `mval` CLI;
# all statistics and path logic live in the `validation` package: every path under
# results/<protocol>/ comes from LAYOUT (validation.workflow.Layout), every config value from the
# config as check_config fills it in from its schema's defaults.
from snakemake.utils import min_version

from validation import workflow as wf

min_version("8.20")


configfile: "config/config.yaml"


wf.check_config(config, source="config/config.yaml (with --config overrides)")
LAYOUT = wf.layout(config)


wildcard_constraints:
    site="[a-z0-9][a-z0-9_-]*",
    vendor="[A-Za-z0-9][A-Za-z0-9_-]*",
    kind="|".join(wf.REPORT_KINDS),
    version="[0-9A-Za-z][0-9A-Za-z._-]*",


include: "rules/demo.smk"
include: "rules/validation.smk"
include: "rules/postmarket.smk"
include: "rules/surveillance.smk"
include: "rules/federated.smk"


rule all:
    default_target: True
    input:
        wf.report_paths(config),
        wf.all_sr_indexes(config),
        LAYOUT.analysis.results,
