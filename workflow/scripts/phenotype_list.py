import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821

from sparselmm.plink import read_fam  # noqa: E402
from sparselmm.tables import prepare_phenotypes  # noqa: E402

names = prepare_phenotypes(inp.phenotypes, read_fam(inp.fam[: -len(".fam")]), params.requested,
                           params.folds, out.table)
with open(out.names, "w") as fh:
    fh.write("\n".join(names) + "\n")
print(f"{len(names)} phenotypes", file=sys.stderr)
