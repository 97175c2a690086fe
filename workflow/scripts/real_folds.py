import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, params, out, wc = snakemake.input, snakemake.params, snakemake.output, snakemake.wildcards  # noqa: F821

from sparselmm.pipeline import group_fold_table  # noqa: E402
from sparselmm.plink import read_samples  # noqa: E402

counts = group_fold_table(inp.phenotypes, params.names, read_samples(inp.fam[: -len(".fam")]),
                          inp.covariates, params.k, params.seed, out.folds)
for name, n in counts.items():
    print(f"{name}: {n} samples in {params.k} folds", file=sys.stderr)
