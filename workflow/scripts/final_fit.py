import os
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
# BLAS threads = the job's threads: parallel jobs must not oversubscribe the cores
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(snakemake.threads)  # noqa: F821
inp, params, wc = snakemake.input, snakemake.params, snakemake.wildcards  # noqa: F821

from sparselmm.export import final_fit  # noqa: E402

final_fit(bed=inp.bed[: -len(".bed")], phenotypes=inp.phenotypes, phenotype=params.phenotype,
          covariates=inp.covariates, method=wc.method, options=params.options,
          transform=params.transform, out=params.prefix.format(**wc), min_pip=params.min_pip,
          cv_metrics=list(inp.metrics), cv_predictions=list(inp.predictions))
