import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
params, out, wc = snakemake.params, snakemake.output, snakemake.wildcards  # noqa: F821

from sparselmm.export import write_predixcan_db  # noqa: E402

n = write_predixcan_db(out.db, [(g, f"results/models/{g}/{wc.method}") for g in params.genes])
print(f"{out.db}: {n} genes", file=sys.stderr)
