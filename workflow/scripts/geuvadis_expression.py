from common import start

start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821

import sys  # noqa: E402

from sparselmm.realdata import expression_bed_to_tsv  # noqa: E402

n, p = expression_bed_to_tsv(inp.expression, out.table)
print(f"{n} samples x {p} genes", file=sys.stderr)
