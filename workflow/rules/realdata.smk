# Real data (Fig 2): the public GEUVADIS chr22 default, or any PLINK fileset.


rule geuvadis_fetch:
    output:
        archive="resources/geuvadis/examples.tar.xz",
    log:
        "results/logs/geuvadis_fetch.log",
    conda:
        "../../envs/sparselmm.yaml"
    resources:
        runtime=10,
    params:
        source=config["realdata"]["geuvadis_source"],
        deb_sha256=config["realdata"]["geuvadis_deb_sha256"],
        archive_sha256=config["realdata"]["geuvadis_archive_sha256"],
    script:
        "../scripts/geuvadis_fetch.py"


rule geuvadis_unpack:
    input:
        archive="resources/geuvadis/examples.tar.xz",
    output:
        vcf="resources/geuvadis/genotypes.chr22.vcf.gz",
        expression="resources/geuvadis/genes.50percent.chr22.bed.gz",
    log:
        "results/logs/geuvadis_unpack.log",
    conda:
        "../../envs/plink2.yaml"
    shell:
        "(tar -xJf {input.archive} -C resources/geuvadis "
        "./genotypes.chr22.vcf.gz ./genes.50percent.chr22.bed.gz"
        " && touch {output}) 2> {log}"


rule geuvadis_plink:
    input:
        vcf="resources/geuvadis/genotypes.chr22.vcf.gz",
    output:
        multiext("resources/geuvadis/chr22", ".bed", ".bim", ".fam"),
    log:
        "results/logs/geuvadis_plink.log",
    conda:
        "../../envs/plink2.yaml"
    threads: 1
    params:
        prefix=output_prefix,
    shell:
        "plink2 --vcf {input.vcf} --snps-only just-acgt --max-alleles 2 "
        "--make-bed --threads {threads} --out {params.prefix} > {log} 2>&1"


rule geuvadis_expression:
    input:
        expression="resources/geuvadis/genes.50percent.chr22.bed.gz",
    output:
        table="resources/geuvadis/expression.tsv",
    log:
        "results/logs/geuvadis_expression.log",
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/geuvadis_expression.py"


rule genotype_qc:
    input:
        unpack(real_genotype_files),
    output:
        multiext(REAL_QC, ".bed", ".bim", ".fam"),
    log:
        "results/logs/genotype_qc.log",
    conda:
        "../../envs/sparselmm.yaml"
    threads: 2
    resources:
        mem_mb=packed_mem_mb,
    params:
        prefix=real_genotype_prefix,
        min_maf=config["realdata"]["qc"]["min_maf"],
        max_missing=config["realdata"]["qc"]["max_missing"],
    script:
        "../scripts/genotype_qc.py"


rule covariates:
    input:
        bed=f"{REAL_QC}.bed",
        fam=f"{REAL_QC}.fam",
        user=user_covariate_input,
    output:
        table="results/realdata/covariates.tsv",
    log:
        "results/logs/covariates.log",
    benchmark:
        "results/benchmarks/covariates.tsv"
    conda:
        "../../envs/sparselmm.yaml"
    threads: 2
    resources:
        mem_mb=packed_mem_mb,
    params:
        n_pcs=config["realdata"]["n_pcs"],
        seed=config["realdata"]["seed"],
        chromosomes=config["realdata"]["pc_chromosomes"],
    script:
        "../scripts/covariates.py"


rule real_folds:
    input:
        fam=f"{REAL_QC}.fam",
        phenotypes=R("results/realdata/phenotypes.tsv"),
        covariates="results/realdata/covariates.tsv",
        groups=R("results/realdata/groups.tsv"),
        names=R("results/realdata/phenotypes.txt"),  # (see fit_real)
    output:
        folds=R("results/realdata/folds/group{group}.tsv"),
    log:
        R("results/logs/real_folds/group{group}.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        names=group_phenotypes,
        k=config["cv"]["folds"],
        seed=config["cv"]["seed"],
    script:
        "../scripts/real_folds.py"


checkpoint phenotype_list:
    input:
        unpack(phenotype_list_inputs),
    output:
        names=R("results/realdata/phenotypes.txt"),
        table=R("results/realdata/phenotypes.tsv"),
        groups=R("results/realdata/groups.tsv"),
        skipped=R("results/realdata/skipped.tsv"),
    log:
        R("results/logs/phenotype_list.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        requested=config["realdata"]["phenotypes"],
        binary=config["realdata"]["binary_phenotypes"],
        binary_only=REGISTRY.binary_only_methods(REAL_METHODS),
        folds=config["cv"]["folds"],
        window_kb=config["realdata"]["cis_window_kb"],
        group_size=config["realdata"]["group_size"],
    script:
        "../scripts/phenotype_list.py"
