from common import plink_prefix, start

start(snakemake)  # noqa: F821
inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821

import sys  # noqa: E402

from sparselmm.cv import write_folds  # noqa: E402
from sparselmm.plink import read_samples  # noqa: E402

iids = read_samples(plink_prefix(inp.fam))
write_folds(out.folds, iids, params.k, params.seed, [params.phenotype])
print(f"{len(iids)} samples in {params.k} folds (seed {params.seed})", file=sys.stderr)
