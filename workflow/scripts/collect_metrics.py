from common import start

start(snakemake)  # noqa: F821
paths, out = list(snakemake.input), snakemake.output.table  # noqa: F821

import sys  # noqa: E402

from sparselmm.summary import collect_metrics  # noqa: E402

table = collect_metrics(paths)
table.to_csv(out, sep="\t", index=False, float_format="%.6g")
print(f"{len(table)} rows from {len(paths)} fits", file=sys.stderr)
