from common import start

start(snakemake)  # noqa: F821
params, out, wc = snakemake.params, snakemake.output, snakemake.wildcards  # noqa: F821

import sys  # noqa: E402

from sparselmm.export import write_predixcan_db  # noqa: E402

n = write_predixcan_db(out.db, [(g, f"results/models/{g}/{wc.method}") for g in params.genes])
print(f"{out.db}: {n} genes", file=sys.stderr)
