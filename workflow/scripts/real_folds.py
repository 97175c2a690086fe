from common import plink_prefix, start

start(snakemake)  # noqa: F821
inp, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821

import sys  # noqa: E402

from sparselmm.cv import group_fold_table  # noqa: E402
from sparselmm.plink import read_samples  # noqa: E402

counts = group_fold_table(inp.phenotypes, params.names, read_samples(plink_prefix(inp.fam)),
                          inp.covariates, params.k, params.seed, out.folds)
for name, n in counts.items():
    print(f"{name}: {n} samples in {params.k} folds", file=sys.stderr)
