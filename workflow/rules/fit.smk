# One fit per data set x method x fold: predictions of the held-out fold.


rule fit_simulation:
    input:
        bed="results/simulation/data/{scenario}/rep{replicate}/genotypes.bed",
        bim="results/simulation/data/{scenario}/rep{replicate}/genotypes.bim",
        fam="results/simulation/data/{scenario}/rep{replicate}/genotypes.fam",
        phenotypes="results/simulation/data/{scenario}/rep{replicate}/phenotypes.tsv",
        covariates="results/simulation/data/{scenario}/rep{replicate}/covariates.tsv",
        folds="results/simulation/data/{scenario}/rep{replicate}/folds.tsv",
        truth="results/simulation/data/{scenario}/rep{replicate}/truth.json",
    output:
        predictions="results/simulation/fits/{scenario}/rep{replicate}/{method}/fold{fold}.predictions.tsv",
        metrics="results/simulation/fits/{scenario}/rep{replicate}/{method}/fold{fold}.metrics.tsv",
        timing="results/simulation/fits/{scenario}/rep{replicate}/{method}/fold{fold}.timing.tsv",
    log:
        "results/logs/fit/{scenario}/rep{replicate}/{method}/fold{fold}.log",
    benchmark:
        "results/benchmarks/fit/{scenario}/rep{replicate}/{method}/fold{fold}.tsv"
    conda:
        "../../envs/sparselmm.yaml"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=fit_runtime,
    params:
        options=method_options,
        phenotype="y",
        labels=scenario_labels,
    script:
        "../scripts/fit.py"


rule fit_real:
    input:
        bed="results/realdata/genotypes/qc.bed",
        bim="results/realdata/genotypes/qc.bim",
        fam="results/realdata/genotypes/qc.fam",
        phenotypes=config["realdata"]["phenotype_table"],
        covariates="results/realdata/covariates.tsv",
        folds="results/realdata/folds/{phenotype}.tsv",
    output:
        predictions="results/realdata/fits/{phenotype}/{method}/fold{fold}.predictions.tsv",
        metrics="results/realdata/fits/{phenotype}/{method}/fold{fold}.metrics.tsv",
        timing="results/realdata/fits/{phenotype}/{method}/fold{fold}.timing.tsv",
    log:
        "results/logs/fit_real/{phenotype}/{method}/fold{fold}.log",
    benchmark:
        "results/benchmarks/fit_real/{phenotype}/{method}/fold{fold}.tsv"
    conda:
        "../../envs/sparselmm.yaml"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=fit_runtime,
    params:
        options=method_options,
        phenotype=phenotype_column,
        labels=phenotype_labels,
        transform=config["realdata"]["phenotype_transform"],
    script:
        "../scripts/fit.py"
