# Trained models to take away: a final fit of every real-data phenotype x method on
# all its samples, its weight files (PLINK 2 --score, PrediXcan SQLite), and the
# scoring of another cohort (target: score).

# one job per group of phenotypes x method writes the group's model files,
# results/models/{phenotype}/{method}.{weights.tsv,score,afreq,json}, and last (so that
# an interrupted job is redone) its manifest MODEL_MANIFEST, the job's declared output
PREDIXCAN = R("results/models/predixcan/{method}")


rule final_fit_group:
    input:
        **plink_files(REAL_QC),
        phenotypes=R("results/realdata/phenotypes.tsv"),
        covariates="results/realdata/covariates.tsv",
        groups=R("results/realdata/groups.tsv"),
        metrics=group_fold_files("metrics"),
        predictions=group_fold_files("predictions"),
    output:
        manifest=MODEL_MANIFEST,
    log:
        R("results/logs/final_fit/group{group}/{method}.log"),
    benchmark:
        R("results/benchmarks/final_fit/group{group}/{method}.tsv")
    conda:
        "../../envs/sparselmm.yaml"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=group_runtime,
    params:
        options=method_options,
        transform=config["realdata"]["phenotype_transform"],
        binary=config["realdata"]["binary_phenotypes"],
        prevalence=config["realdata"]["prevalence"],
        min_pip=config["models"]["min_pip"],
        window_kb=config["realdata"]["cis_window_kb"],
        prefix=model_pattern,
        # a config value (not a function of the input): a change refits
        genotype_storage=config["realdata"]["genotype_storage"],
        # the model files' layout: a new value refits the models of earlier runs
        # (2: the CV correlation's sign, pred_perf_rho, for PredictDB's filter)
        layout=2,
    script:
        "../scripts/final_fit_group.py"


rule predixcan_db:
    input:
        **plink_files(REAL_QC),
        phenotypes=R("results/realdata/phenotypes.tsv"),
        covariates="results/realdata/covariates.tsv",
        models=predixcan_inputs,
        positions=gene_annotation_input,
    output:
        db=f"{PREDIXCAN}.db",
        covariance=f"{PREDIXCAN}.covariances.txt.gz",
        filtered_db=f"{PREDIXCAN}.filtered.db",
        filtered_covariance=f"{PREDIXCAN}.filtered.covariances.txt.gz",
    log:
        R("results/logs/predixcan_db/{method}.log"),
    conda:
        "../../envs/sparselmm.yaml"
    resources:
        mem_mb=qc_mem_mb,
    params:
        genes=model_phenotypes,
        prefix=model_pattern,
        transform=config["realdata"]["phenotype_transform"],
        max_snps=config["models"]["covariance_max_snps"],
        cv_seed=config["cv"]["seed"],
    script:
        "../scripts/predixcan_db.py"


rule fusion_weights:
    input:
        **plink_files(REAL_QC),
        phenotypes=R("results/realdata/phenotypes.tsv"),
        covariates="results/realdata/covariates.tsv",
        groups=R("results/realdata/groups.tsv"),
        models=all_model_files,
    output:
        pos=f"{FUSION}/models.pos",
        weights=directory(f"{FUSION}/weights"),
    log:
        R("results/logs/fusion_weights.log"),
    conda:
        "../../envs/sparselmm.yaml"
    resources:
        mem_mb=qc_mem_mb,
    params:
        genes=model_phenotypes,
        methods=REAL_METHODS,
        prefix=model_pattern,
        transform=config["realdata"]["phenotype_transform"],
        window_kb=config["realdata"]["cis_window_kb"],
        panel=ANALYSIS or "sparselmm",
    script:
        "../scripts/fusion_weights.py"


rule models:
    input:
        model_outputs,


rule score_cohort:
    input:
        unpack(scoring_genotype_files),
        models=all_model_files,
    output:
        predictions=R("results/scores/{cohort}.predictions.tsv"),
        snps=R("results/scores/{cohort}.snps.tsv"),
    log:
        R("results/logs/score/{cohort}.log"),
    conda:
        "../../envs/sparselmm.yaml"
    resources:
        mem_mb=qc_mem_mb,
    params:
        prefix=config["scoring"]["genotypes"],
        min_fraction=config["scoring"]["min_snp_fraction"],
        models=model_list,
    script:
        "../scripts/score.py"


rule score:
    input:
        score_target,
