# SparseLMM: sparse Bayesian phenotype prediction from SNP genotypes.
# Reproduces Fig 1 (simulation) and Fig 2 (real data) of Xiao (2019)
# "Sparse Linear Mixed Model".
# Run: snakemake --cores N   (see README.md; every knob is in config.yaml)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/realdata.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/models.smk"


check_config_paths()
check_sample_sizes()


onerror:
    after_failure(log)


rule all:
    default_target: True
    input:
        final_outputs(),
        main_job_models,
