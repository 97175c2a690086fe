# One fit per data set x method x fold (real data: per group of phenotypes x method x
# fold): predictions of the held-out fold.


rule fit_simulation:
    input:
        # auto beside its candidates: their fits of this fold
        unpack(auto_shared_inputs(SIM_FIT)),
        **plink_files(simulation_data("genotypes")),
        phenotypes=simulation_data("phenotypes.tsv"),
        covariates=simulation_data("covariates.tsv"),
        folds=simulation_data("folds.tsv"),
        truth=simulation_data("truth.json"),
    output:
        predictions=f"{SIM_FIT}.predictions.tsv",
        metrics=f"{SIM_FIT}.metrics.tsv",
        timing=f"{SIM_FIT}.timing.tsv",
        inner=f"{SIM_FIT}.inner.tsv",
    log:
        R("results/logs/fit/{scenario}/rep{replicate}/{method}/fold{fold}.log"),
    benchmark:
        SIM_BENCHMARK
    conda:
        "../../envs/sparselmm.yaml"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=fit_runtime,
    params:
        options=method_options,
        phenotype=SIM_PHENOTYPE,
        labels=scenario_labels,
        shared=auto_shared(SIM_FIT),
    script:
        "../scripts/fit.py"


rule fit_real:
    input:
        unpack(auto_shared_inputs(REAL_FIT)),
        **plink_files(REAL_QC),
        phenotypes=R("results/realdata/phenotypes.tsv"),
        covariates="results/realdata/covariates.tsv",
        groups=R("results/realdata/groups.tsv"),
        folds=R("results/realdata/folds/group{group}.tsv"),
        # the checkpoint's first output: params and resources read its groups, so
        # a fit asked for by name (a target, --forcerun) waits for it
        names=R("results/realdata/phenotypes.txt"),
    output:
        predictions=f"{REAL_FIT}.predictions.tsv",
        metrics=f"{REAL_FIT}.metrics.tsv",
        timing=f"{REAL_FIT}.timing.tsv",
        inner=f"{REAL_FIT}.inner.tsv",
    log:
        R("results/logs/fit_real/group{group}/{method}/fold{fold}.log"),
    benchmark:
        REAL_BENCHMARK
    conda:
        "../../envs/sparselmm.yaml"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=group_runtime,
    params:
        options=method_options,
        names=group_phenotypes,
        transform=config["realdata"]["phenotype_transform"],
        binary=config["realdata"]["binary_phenotypes"],
        prevalence=config["realdata"]["prevalence"],
        # a config value (not a function of the input): a change refits
        genotype_storage=config["realdata"]["genotype_storage"],
        shared=auto_shared(REAL_FIT),
    script:
        "../scripts/fit_group.py"
