from common import plink_prefix, start

start(snakemake, blas_threads=True)  # noqa: F821
inp, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821

import sys  # noqa: E402

from sparselmm.plink import read_fam  # noqa: E402
from sparselmm.realdata import write_covariates  # noqa: E402
from sparselmm.tables import user_covariates  # noqa: E402

prefix = plink_prefix(inp.bed)
extra = user_covariates(inp.user[0], read_fam(prefix)) if inp.user else None
tab = write_covariates(prefix, out.table, n_pcs=params.n_pcs, seed=params.seed, extra=extra,
                       source=inp.user[0] if inp.user else None,
                       chromosomes=params.chromosomes)
print(f"{tab.shape[0]} samples x {tab.shape[1]} covariates: {', '.join(tab.columns)}",
      file=sys.stderr)
