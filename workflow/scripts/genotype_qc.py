from common import plink_prefix, start

start(snakemake, blas_threads=True)  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821

from sparselmm.realdata import genotype_qc  # noqa: E402

# plink2's --memory workspace: three quarters of the job's memory
genotype_qc(params.prefix, plink_prefix(out[0]), min_maf=params.min_maf,
            max_missing=params.max_missing, threads=snakemake.threads,  # noqa: F821
            memory_mb=0.75 * snakemake.resources.mem_mb)  # noqa: F821
