# Simulated data sets of the paper's Fig 1 design, as PLINK filesets.


rule simulate:
    output:
        bed="results/simulation/data/{scenario}/rep{replicate}/genotypes.bed",
        bim="results/simulation/data/{scenario}/rep{replicate}/genotypes.bim",
        fam="results/simulation/data/{scenario}/rep{replicate}/genotypes.fam",
        phenotypes="results/simulation/data/{scenario}/rep{replicate}/phenotypes.tsv",
        covariates="results/simulation/data/{scenario}/rep{replicate}/covariates.tsv",
        truth="results/simulation/data/{scenario}/rep{replicate}/truth.json",
    log:
        "results/logs/simulate/{scenario}/rep{replicate}.log",
    conda:
        "../../envs/sparselmm.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sim=simulation_params,
    script:
        "../scripts/simulate.py"


rule folds:
    input:
        fam="results/simulation/data/{scenario}/rep{replicate}/genotypes.fam",
    output:
        folds="results/simulation/data/{scenario}/rep{replicate}/folds.tsv",
    log:
        "results/logs/folds/{scenario}/rep{replicate}.log",
    conda:
        "../../envs/sparselmm.yaml"
    params:
        k=config["cv"]["folds"],
        seed=config["cv"]["seed"],
    script:
        "../scripts/folds.py"
