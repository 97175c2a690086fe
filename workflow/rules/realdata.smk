# Real data (Fig 2): the public GEUVADIS chr22 default, or any PLINK fileset.


rule geuvadis_fetch:
    output:
        archive="resources/geuvadis/examples.tar.xz",
    params:
        source=config["realdata"]["geuvadis_source"],
        deb_sha256=config["realdata"]["geuvadis_deb_sha256"],
        archive_sha256=config["realdata"]["geuvadis_archive_sha256"],
    log:
        "results/logs/geuvadis_fetch.log",
    resources:
        runtime=10,
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
    shell:
        "(tar -xJf {input.archive} -C resources/geuvadis "
        "./genotypes.chr22.vcf.gz ./genes.50percent.chr22.bed.gz"
        " && touch {output}) 2> {log}"


rule geuvadis_plink:
    input:
        vcf="resources/geuvadis/genotypes.chr22.vcf.gz",
    output:
        multiext("resources/geuvadis/chr22", ".bed", ".bim", ".fam"),
    params:
        prefix="resources/geuvadis/chr22",
    log:
        "results/logs/geuvadis_plink.log",
    threads: 1
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
        multiext("results/realdata/genotypes/qc", ".bed", ".bim", ".fam"),
    params:
        prefix=real_genotype_prefix,
        min_maf=config["realdata"]["qc"]["min_maf"],
        max_missing=config["realdata"]["qc"]["max_missing"],
    log:
        "results/logs/genotype_qc.log",
    resources:
        mem_mb=qc_mem_mb,
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/genotype_qc.py"


rule covariates:
    input:
        bed="results/realdata/genotypes/qc.bed",
        fam="results/realdata/genotypes/qc.fam",
        user=user_covariate_input,
    output:
        table="results/realdata/covariates.tsv",
    params:
        n_pcs=config["realdata"]["n_pcs"],
        seed=config["realdata"]["seed"],
    log:
        "results/logs/covariates.log",
    benchmark:
        "results/benchmarks/covariates.tsv"
    resources:
        mem_mb=qc_mem_mb,
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/covariates.py"


rule real_folds:
    input:
        fam="results/realdata/genotypes/qc.fam",
        phenotypes=config["realdata"]["phenotype_table"],
        covariates="results/realdata/covariates.tsv",
    output:
        folds="results/realdata/folds/{phenotype}.tsv",
    params:
        k=config["cv"]["folds"],
        seed=config["cv"]["seed"],
    log:
        "results/logs/real_folds/{phenotype}.log",
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/real_folds.py"


checkpoint phenotype_list:
    input:
        phenotypes=config["realdata"]["phenotype_table"],
        fam="results/realdata/genotypes/qc.fam",
    output:
        names="results/realdata/phenotypes.txt",
    params:
        requested=config["realdata"]["phenotypes"],
        folds=config["cv"]["folds"],
    log:
        "results/logs/phenotype_list.log",
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/phenotype_list.py"
