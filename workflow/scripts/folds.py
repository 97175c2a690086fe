import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
fam = snakemake.input.fam  # noqa: F821
out = snakemake.output.folds  # noqa: F821
k, seed = snakemake.params.k, snakemake.params.seed  # noqa: F821

from sparselmm.pipeline import write_folds  # noqa: E402
from sparselmm.plink import read_samples  # noqa: E402

iids = read_samples(fam[: -len(".fam")])
write_folds(out, iids, k, seed)
print(f"{len(iids)} samples in {k} folds (seed {seed})", file=sys.stderr)
