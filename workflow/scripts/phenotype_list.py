import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821

from sparselmm.pipeline import select_phenotypes  # noqa: E402
from sparselmm.plink import read_samples  # noqa: E402

names = select_phenotypes(inp.phenotypes, read_samples(inp.fam[: -len(".fam")]),
                          params.requested, params.folds)
with open(out.names, "w") as fh:
    fh.write("\n".join(names) + "\n")
print(f"{len(names)} phenotypes", file=sys.stderr)
