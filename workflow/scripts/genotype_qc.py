import os
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
# BLAS threads = the job's threads: parallel jobs must not oversubscribe the cores
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(snakemake.threads)  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821

from sparselmm.realdata import genotype_qc  # noqa: E402

genotype_qc(params.prefix, out[0][: -len(".bed")], min_maf=params.min_maf,
            max_missing=params.max_missing)
