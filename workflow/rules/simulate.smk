# Simulated data sets of the paper's Fig 1 design, as PLINK filesets.


rule simulation_genotype_qc:
    input:
        unpack(simulation_source_files),
    output:
        multiext(R("results/simulation/genotypes/qc"), ".bed", ".bim", ".fam"),
    log:
        R("results/logs/simulation_genotype_qc.log"),
    conda:
        "../../envs/sparselmm.yaml"
    resources:
        mem_mb=qc_mem_mb,
    params:
        prefix=simulation_source_prefix,
        min_maf=config["realdata"]["qc"]["min_maf"],
        max_missing=config["realdata"]["qc"]["max_missing"],
    script:
        "../scripts/genotype_qc.py"


rule simulate:
    input:
        unpack(simulation_genotype_input),
    output:
        **plink_files(simulation_data("genotypes")),
        phenotypes=simulation_data("phenotypes.tsv"),
        covariates=simulation_data("covariates.tsv"),
        truth=simulation_data("truth.json"),
    log:
        R("results/logs/simulate/{scenario}/rep{replicate}.log"),
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
        fam=simulation_data("genotypes.fam"),
    output:
        folds=simulation_data("folds.tsv"),
    log:
        R("results/logs/folds/{scenario}/rep{replicate}.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        k=config["cv"]["folds"],
        seed=config["cv"]["seed"],
        phenotype=SIM_PHENOTYPE,
    script:
        "../scripts/folds.py"
