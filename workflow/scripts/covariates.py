import os
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
# BLAS threads = the job's threads: parallel jobs must not oversubscribe the cores
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(snakemake.threads)  # noqa: F821
inp, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821

from sparselmm.pipeline import numeric_columns, read_table  # noqa: E402
from sparselmm.realdata import write_covariates  # noqa: E402

extra = None
if inp.user:
    extra = numeric_columns(read_table(inp.user[0], "covariate"), inp.user[0], "covariate")
tab = write_covariates(inp.bed[: -len(".bed")], out.table, n_pcs=params.n_pcs, seed=params.seed,
                       extra=extra)
print(f"{tab.shape[0]} samples x {tab.shape[1]} covariates", file=sys.stderr)
