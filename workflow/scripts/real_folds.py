import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, params, out, wc = snakemake.input, snakemake.params, snakemake.output, snakemake.wildcards  # noqa: F821

from sparselmm.pipeline import real_fold_table  # noqa: E402
from sparselmm.plink import read_samples  # noqa: E402

n = real_fold_table(inp.phenotypes, wc.phenotype, read_samples(inp.fam[: -len(".fam")]),
                    inp.covariates, params.k, params.seed, out.folds)
print(f"{wc.phenotype}: {n} samples in {params.k} folds", file=sys.stderr)
